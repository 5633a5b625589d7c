import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/reports.ts. */
export const reports: Catalogue = {
  es: {
    Day: 'Día',
    User: 'Usuario',
    Group: 'Grupo',
    '(no day)': '(sin día)',
    '(no user)': '(sin usuario)',
    '(no group)': '(sin grupo)',
    'Download CSV': 'Descargar CSV',
    Calls: 'Llamadas',
    Total: 'Total',
    Average: 'Promedio',
    Longest: 'Máxima',
    'No recordings.': 'No hay grabaciones.',
    'A call in which several users took part counts in each of their rows, and once in the total.':
      'Una llamada en la que participaron varios usuarios cuenta en la fila de cada uno y una sola vez en el total.',
    'A call in which several groups took part counts in each of their rows, and once in the total.':
      'Una llamada en la que participaron varios grupos cuenta en la fila de cada uno y una sola vez en el total.',
    Reports: 'Informes',
    Per: 'Por',
    From: 'Desde',
    To: 'Hasta',
    Show: 'Mostrar',
    'Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.':
      'Días de 00:00 a 24:00 en {zone} (la zona horaria de este navegador); duraciones en h:mm:ss.',
  },
  fr: {
    Day: 'Jour',
    User: 'Utilisateur',
    Group: 'Groupe',
    '(no day)': '(sans jour)',
    '(no user)': '(sans utilisateur)',
    '(no group)': '(sans groupe)',
    'Download CSV': 'Télécharger le CSV',
    Calls: 'Appels',
    Total: 'Total',
    Average: 'Moyenne',
    Longest: 'Plus long',
    'No recordings.': 'Aucun enregistrement.',
    'A call in which several users took part counts in each of their rows, and once in the total.':
      'Un appel auquel plusieurs utilisateurs ont participé compte dans la ligne de chacun, et une seule fois dans le total.',
    'A call in which several groups took part counts in each of their rows, and once in the total.':
      'Un appel auquel plusieurs groupes ont participé compte dans la ligne de chacun, et une seule fois dans le total.',
    Reports: 'Rapports',
    Per: 'Par',
    From: 'Du',
    To: 'Au',
    Show: 'Afficher',
    'Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.':
      'Jours de 00:00 à 24:00, fuseau horaire {zone} (celui de ce navigateur) ; durées au format h:mm:ss.',
  },
  'pt-BR': {
    Day: 'Dia',
    User: 'Usuário',
    Group: 'Grupo',
    '(no day)': '(sem dia)',
    '(no user)': '(sem usuário)',
    '(no group)': '(sem grupo)',
    'Download CSV': 'Baixar CSV',
    Calls: 'Chamadas',
    Total: 'Total',
    Average: 'Média',
    Longest: 'Mais longa',
    'No recordings.': 'Nenhuma gravação.',
    'A call in which several users took part counts in each of their rows, and once in the total.':
      'Uma chamada com a participação de vários usuários conta na linha de cada um e uma única vez no total.',
    'A call in which several groups took part counts in each of their rows, and once in the total.':
      'Uma chamada com a participação de vários grupos conta na linha de cada um e uma única vez no total.',
    Reports: 'Relatórios',
    Per: 'Por',
    From: 'De',
    To: 'Até',
    Show: 'Mostrar',
    'Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.':
      'Dias das 00:00 às 24:00 em {zone} (o fuso horário deste navegador); durações em h:mm:ss.',
  },
  ru: {
    Day: 'День',
    User: 'Пользователь',
    Group: 'Группа',
    '(no day)': '(без дня)',
    '(no user)': '(без пользователя)',
    '(no group)': '(без группы)',
    'Download CSV': 'Скачать CSV',
    Calls: 'Звонки',
    Total: 'Всего',
    Average: 'Среднее',
    Longest: 'Самый долгий',
    'No recordings.': 'Записей нет.',
    'A call in which several users took part counts in each of their rows, and once in the total.':
      'Звонок с участием нескольких пользователей учитывается в строке каждого из них и один раз в итоге.',
    'A call in which several groups took part counts in each of their rows, and once in the total.':
      'Звонок с участием нескольких групп учитывается в строке каждой из них и один раз в итоге.',
    Reports: 'Отчёты',
    Per: 'Разбивка',
    From: 'С',
    To: 'По',
    Show: 'Показать',
    'Days from 00:00 to 24:00 in {zone} (this browser’s time zone); durations as h:mm:ss.':
      'Сутки с 00:00 до 24:00 в часовом поясе {zone} (часовой пояс этого браузера); длительность в формате ч:мм:сс.',
  },
};
