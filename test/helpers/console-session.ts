/**
 * Acting as someone in the console tests that sign in as several users
 * (test/e2e/console-evaluations.test.ts): signing the page in as a user, a request in the page
 * with its session, and a request with the admin token whatever its answer.
 */
import type { ConsoleWorld } from './console-world.js';

/** Signs the page in as `username` (password `<username>-password` unless given), waiting for "<username> (<role>)". */
export async function logInAs(
  w: ConsoleWorld,
  username: string,
  role: string,
  password = `${username}-password`,
): Promise<void> {
  const { page } = w;
  await page.context().clearCookies();
  await page.goto(w.base);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
  await page.waitForSelector(`#whoami:has-text("${username} (${role})")`);
}

/** A request with the admin token whatever its answer: status and JSON. */
export async function adminCall(w: ConsoleWorld, method: string, path: string, body?: unknown) {
  const r = await fetch(`${w.base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${w.server.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as { error?: string } };
}

/** The status of a request made in the page, with its session. */
export function inPageStatus(w: ConsoleWorld, method: string, path: string, body?: unknown): Promise<number> {
  return w.page.evaluate(
    async ([m, p, b]) =>
      (
        await fetch(`/api/v1${p}`, {
          method: m,
          headers: { 'content-type': 'application/json' },
          body: b,
        })
      ).status,
    [method, path, body === undefined ? undefined : JSON.stringify(body)] as const,
  );
}
