import { writeSync } from 'node:fs';
import process from 'node:process';

// A second reporter for `npm test`, beside TAP: it collects every failed test and, once the whole
// run has ended, prints them together as the last lines of the output. A CI log is often read only
// from its tail; with TAP alone a failure 1,000 results up is easy to miss (a run of 1,196 tests
// once ended in "# fail 2" with neither failure in its last 300 lines).

/** First line of a message, shortened. */
function firstLine(text, max = 240) {
  const line =
    String(text ?? '')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The innermost error's message: the runner wraps a test's error in its own. */
function describe(error) {
  if (!error) return 'no error given';
  const inner = error.cause && typeof error.cause === 'object' ? error.cause : error;
  return firstLine(inner.message ?? inner);
}

/** The list as text, '' when nothing failed. */
function listing(failed) {
  if (failed.length === 0) return '';
  let text = `\n# ${failed.length} failed test${failed.length === 1 ? '' : 's'}:\n`;
  for (const f of failed) text += `#   ${f.file ?? '?'}\n#     ${f.name}\n#     ${f.error}\n`;
  return text;
}

export default async function* failures(source) {
  const failed = [];
  let printed = false;
  const print = () => {
    if (printed) return;
    printed = true;
    const text = listing(failed);
    if (text) writeSync(1, text);
  };
  // With --test-force-exit the runner ends the process before its reporters see the end of their
  // stream (TAP's last line, "# duration_ms", is lost too): the list is written at the exit.
  process.once('exit', print);
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A suite or a file fails when one of its tests does: list only the tests themselves.
    if (details?.type === 'suite') continue;
    if (details?.error?.failureType === 'subtestsFailed') continue;
    failed.push({ name, file, error: describe(details?.error) });
  }
  // The stream ended before the exit: the list goes out through the reporter, after TAP's end.
  process.off('exit', print);
  if (!printed) yield listing(failed);
}
