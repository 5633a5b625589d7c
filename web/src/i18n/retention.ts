import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/retention.ts. The policy words (keep, 90d, 12h) are the API's and stay. */
export const retention: Catalogue = {
  es: {
    'nothing changed': 'nada cambió',
    Retention: 'Conservación',
    'Saved here: this policy replaces the server’s configured one on every node.':
      'Guardada aquí: esta política sustituye a la configurada en el servidor, en todos los nodos.',
    'The server’s configured policy applies until one is saved here.':
      'Se aplica la política configurada en el servidor hasta que se guarde una aquí.',
    'Recordings past their time are deleted every {s} s; preserved recordings never are.':
      'Las grabaciones vencidas se eliminan cada {s} s; las grabaciones preservadas, nunca.',
    'not group=policy: {line}': 'no es grupo=política: {line}',
    'saved the retention policy': 'política de conservación guardada',
    'the configured retention policy applies again':
      'vuelve a aplicarse la política de conservación configurada',
    'A policy is keep, a number of days (90d) or of hours (12h).':
      'Una política es keep (conservar), un número de días (90d) o de horas (12h).',
    'Keep recordings:': 'Conservar las grabaciones:',
    'Per recording group, one a line (sales=90d); a recording in several groups keeps the longest:':
      'Por grupo de grabación, uno por línea (sales=90d); una grabación de varios grupos conserva la más larga:',
    'Use the configured policy': 'Usar la política configurada',
    'This change deletes {n} stored recordings at the next purge pass. Delete them?': {
      one: 'Este cambio elimina {n} grabación almacenada en la próxima depuración. ¿Eliminarla?',
      many: 'Este cambio elimina {n} grabaciones almacenadas en la próxima depuración. ¿Eliminarlas?',
      other: 'Este cambio elimina {n} grabaciones almacenadas en la próxima depuración. ¿Eliminarlas?',
    },
  },
  fr: {
    'nothing changed': 'rien n’a changé',
    Retention: 'Conservation',
    'Saved here: this policy replaces the server’s configured one on every node.':
      'Enregistrée ici : cette politique remplace celle configurée sur le serveur, sur chaque nœud.',
    'The server’s configured policy applies until one is saved here.':
      'La politique configurée sur le serveur s’applique tant qu’aucune n’est enregistrée ici.',
    'Recordings past their time are deleted every {s} s; preserved recordings never are.':
      'Les enregistrements échus sont supprimés toutes les {s} s ; les enregistrements préservés jamais.',
    'not group=policy: {line}': 'pas de la forme groupe=politique : {line}',
    'saved the retention policy': 'politique de conservation enregistrée',
    'the configured retention policy applies again':
      'la politique de conservation configurée s’applique de nouveau',
    'A policy is keep, a number of days (90d) or of hours (12h).':
      'Une politique est keep (tout garder), un nombre de jours (90d) ou d’heures (12h).',
    'Keep recordings:': 'Garder les enregistrements :',
    'Per recording group, one a line (sales=90d); a recording in several groups keeps the longest:':
      'Par groupe d’enregistrement, un par ligne (sales=90d) ; un enregistrement de plusieurs groupes garde la plus longue :',
    'Use the configured policy': 'Utiliser la politique configurée',
    'This change deletes {n} stored recordings at the next purge pass. Delete them?': {
      one: 'Ce changement supprime {n} enregistrement stocké au prochain passage de purge. Le supprimer ?',
      many: 'Ce changement supprime {n} enregistrements stockés au prochain passage de purge. Les supprimer ?',
      other:
        'Ce changement supprime {n} enregistrements stockés au prochain passage de purge. Les supprimer ?',
    },
  },
  'pt-BR': {
    'nothing changed': 'nada mudou',
    Retention: 'Retenção',
    'Saved here: this policy replaces the server’s configured one on every node.':
      'Salva aqui: esta política substitui a configurada no servidor, em todos os nós.',
    'The server’s configured policy applies until one is saved here.':
      'A política configurada no servidor vale até que uma seja salva aqui.',
    'Recordings past their time are deleted every {s} s; preserved recordings never are.':
      'Gravações vencidas são excluídas a cada {s} s; gravações preservadas, nunca.',
    'not group=policy: {line}': 'não está no formato grupo=política: {line}',
    'saved the retention policy': 'política de retenção salva',
    'the configured retention policy applies again': 'a política de retenção configurada volta a valer',
    'A policy is keep, a number of days (90d) or of hours (12h).':
      'Uma política é keep (manter), um número de dias (90d) ou de horas (12h).',
    'Keep recordings:': 'Manter as gravações:',
    'Per recording group, one a line (sales=90d); a recording in several groups keeps the longest:':
      'Por grupo de gravação, um por linha (sales=90d); uma gravação em vários grupos fica com a mais longa:',
    'Use the configured policy': 'Usar a política configurada',
    'This change deletes {n} stored recordings at the next purge pass. Delete them?': {
      one: 'Esta alteração exclui {n} gravação armazenada na próxima limpeza. Excluí-la?',
      many: 'Esta alteração exclui {n} gravações armazenadas na próxima limpeza. Excluí-las?',
      other: 'Esta alteração exclui {n} gravações armazenadas na próxima limpeza. Excluí-las?',
    },
  },
  ru: {
    'nothing changed': 'ничего не изменилось',
    Retention: 'Хранение',
    'Saved here: this policy replaces the server’s configured one on every node.':
      'Сохранено здесь: эта политика заменяет настроенную на сервере на всех узлах.',
    'The server’s configured policy applies until one is saved here.':
      'Действует политика, настроенная на сервере, пока здесь не сохранена другая.',
    'Recordings past their time are deleted every {s} s; preserved recordings never are.':
      'Записи с истёкшим сроком удаляются каждые {s} с; сохранённые записи — никогда.',
    'not group=policy: {line}': 'не в виде группа=политика: {line}',
    'saved the retention policy': 'политика хранения сохранена',
    'the configured retention policy applies again': 'снова действует настроенная политика хранения',
    'A policy is keep, a number of days (90d) or of hours (12h).':
      'Политика: keep (хранить всё), число дней (90d) или часов (12h).',
    'Keep recordings:': 'Хранить записи:',
    'Per recording group, one a line (sales=90d); a recording in several groups keeps the longest:':
      'По группам записей, по одной в строке (sales=90d); запись из нескольких групп хранится по самой долгой:',
    'Use the configured policy': 'Использовать настроенную политику',
    'This change deletes {n} stored recordings at the next purge pass. Delete them?': {
      one: 'Это изменение удалит {n} сохранённую запись при следующей очистке. Удалить её?',
      few: 'Это изменение удалит {n} сохранённые записи при следующей очистке. Удалить их?',
      many: 'Это изменение удалит {n} сохранённых записей при следующей очистке. Удалить их?',
      other: 'Это изменение удалит {n} сохранённой записи при следующей очистке. Удалить их?',
    },
  },
};
