import type { Catalogue } from '../i18n.js';

const DAY_CALLS = '{day}: {n} calls, average {average}';
const BOUNDED = 'Post-call processing: {pct} % of capacity in use, {n} recordings waiting; {admission}';
const UNBOUNDED = 'Post-call processing: no backlog limit, {n} recordings waiting; {admission}';

/**
 * Translations of the strings of web/src/views/dashboard.ts (the words it shares with Reports,
 * Live, Delivery and the tabs are translated in their catalogues).
 */
export const dashboard: Catalogue = {
  es: {
    Dashboard: 'Panel',
    'Active calls now': 'Llamadas en curso',
    Today: 'Hoy',
    'Calls per day, last 14 days': 'Llamadas por día, últimos 14 días',
    [DAY_CALLS]: {
      one: '{day}: {n} llamada, promedio {average}',
      many: '{day}: {n} de llamadas, promedio {average}',
      other: '{day}: {n} llamadas, promedio {average}',
    },
    '{day}: no calls': '{day}: ninguna llamada',
    'Top users, last 14 days': 'Usuarios con más llamadas, últimos 14 días',
    'Top groups, last 14 days': 'Grupos con más llamadas, últimos 14 días',
    'Post-call processing: not reported by this server.':
      'Procesamiento posterior: este servidor no lo informa.',
    [BOUNDED]: {
      one: 'Procesamiento posterior: {pct} % de la capacidad en uso, {n} grabación en espera; {admission}',
      many: 'Procesamiento posterior: {pct} % de la capacidad en uso, {n} de grabaciones en espera; {admission}',
      other:
        'Procesamiento posterior: {pct} % de la capacidad en uso, {n} grabaciones en espera; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Procesamiento posterior: cola sin límite, {n} grabación en espera; {admission}',
      many: 'Procesamiento posterior: cola sin límite, {n} de grabaciones en espera; {admission}',
      other: 'Procesamiento posterior: cola sin límite, {n} grabaciones en espera; {admission}',
    },
    'Delivery: {healthy} of {destinations} destinations healthy; {pending} pending, {failed} failed.':
      'Entrega: {healthy} de {destinations} destinos en buen estado; pendientes: {pending}, con error: {failed}.',
    'Delivery: no destination contacted yet; {pending} pending, {failed} failed.':
      'Entrega: todavía no se ha contactado con ningún destino; pendientes: {pending}, con error: {failed}.',
  },
  fr: {
    Dashboard: 'Tableau de bord',
    'Active calls now': 'Appels en cours',
    Today: 'Aujourd’hui',
    'Calls per day, last 14 days': 'Appels par jour, 14 derniers jours',
    [DAY_CALLS]: {
      one: '{day} : {n} appel, moyenne {average}',
      many: '{day} : {n} d’appels, moyenne {average}',
      other: '{day} : {n} appels, moyenne {average}',
    },
    '{day}: no calls': '{day} : aucun appel',
    'Top users, last 14 days': 'Utilisateurs les plus actifs, 14 derniers jours',
    'Top groups, last 14 days': 'Groupes les plus actifs, 14 derniers jours',
    'Post-call processing: not reported by this server.':
      'Traitement après appel : non communiqué par ce serveur.',
    [BOUNDED]: {
      one: 'Traitement après appel : {pct} % de la capacité utilisés, {n} enregistrement en attente ; {admission}',
      many: 'Traitement après appel : {pct} % de la capacité utilisés, {n} d’enregistrements en attente ; {admission}',
      other:
        'Traitement après appel : {pct} % de la capacité utilisés, {n} enregistrements en attente ; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Traitement après appel : file sans limite, {n} enregistrement en attente ; {admission}',
      many: 'Traitement après appel : file sans limite, {n} d’enregistrements en attente ; {admission}',
      other: 'Traitement après appel : file sans limite, {n} enregistrements en attente ; {admission}',
    },
    'Delivery: {healthy} of {destinations} destinations healthy; {pending} pending, {failed} failed.':
      'Livraison : {healthy} destinations sur {destinations} en bon état ; en attente : {pending}, en échec : {failed}.',
    'Delivery: no destination contacted yet; {pending} pending, {failed} failed.':
      'Livraison : aucune destination contactée pour l’instant ; en attente : {pending}, en échec : {failed}.',
  },
  'pt-BR': {
    Dashboard: 'Painel',
    'Active calls now': 'Chamadas em andamento',
    Today: 'Hoje',
    'Calls per day, last 14 days': 'Chamadas por dia, últimos 14 dias',
    [DAY_CALLS]: {
      one: '{day}: {n} chamada, média {average}',
      many: '{day}: {n} de chamadas, média {average}',
      other: '{day}: {n} chamadas, média {average}',
    },
    '{day}: no calls': '{day}: nenhuma chamada',
    'Top users, last 14 days': 'Usuários com mais chamadas, últimos 14 dias',
    'Top groups, last 14 days': 'Grupos com mais chamadas, últimos 14 dias',
    'Post-call processing: not reported by this server.':
      'Pós-processamento: não informado por este servidor.',
    [BOUNDED]: {
      one: 'Pós-processamento: {pct} % da capacidade em uso, {n} gravação na fila; {admission}',
      many: 'Pós-processamento: {pct} % da capacidade em uso, {n} de gravações na fila; {admission}',
      other: 'Pós-processamento: {pct} % da capacidade em uso, {n} gravações na fila; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Pós-processamento: fila sem limite, {n} gravação na fila; {admission}',
      many: 'Pós-processamento: fila sem limite, {n} de gravações na fila; {admission}',
      other: 'Pós-processamento: fila sem limite, {n} gravações na fila; {admission}',
    },
    'Delivery: {healthy} of {destinations} destinations healthy; {pending} pending, {failed} failed.':
      'Entrega: {healthy} de {destinations} destinos em bom estado; pendentes: {pending}, com erro: {failed}.',
    'Delivery: no destination contacted yet; {pending} pending, {failed} failed.':
      'Entrega: nenhum destino contatado ainda; pendentes: {pending}, com erro: {failed}.',
  },
  ru: {
    Dashboard: 'Сводка',
    'Active calls now': 'Активные звонки',
    Today: 'Сегодня',
    'Calls per day, last 14 days': 'Звонки по дням за последние 14 дней',
    [DAY_CALLS]: {
      one: '{day}: {n} звонок, в среднем {average}',
      few: '{day}: {n} звонка, в среднем {average}',
      many: '{day}: {n} звонков, в среднем {average}',
      other: '{day}: {n} звонка, в среднем {average}',
    },
    '{day}: no calls': '{day}: звонков нет',
    'Top users, last 14 days': 'Самые активные пользователи за 14 дней',
    'Top groups, last 14 days': 'Самые активные группы за 14 дней',
    'Post-call processing: not reported by this server.': 'Постобработка: этот сервер о ней не сообщает.',
    [BOUNDED]: {
      one: 'Постобработка: занято {pct} % ёмкости, в очереди {n} запись; {admission}',
      few: 'Постобработка: занято {pct} % ёмкости, в очереди {n} записи; {admission}',
      many: 'Постобработка: занято {pct} % ёмкости, в очереди {n} записей; {admission}',
      other: 'Постобработка: занято {pct} % ёмкости, в очереди {n} записи; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Постобработка: очередь без ограничения, в очереди {n} запись; {admission}',
      few: 'Постобработка: очередь без ограничения, в очереди {n} записи; {admission}',
      many: 'Постобработка: очередь без ограничения, в очереди {n} записей; {admission}',
      other: 'Постобработка: очередь без ограничения, в очереди {n} записи; {admission}',
    },
    'Delivery: {healthy} of {destinations} destinations healthy; {pending} pending, {failed} failed.':
      'Доставка: в норме {healthy} из {destinations} назначений; в ожидании: {pending}, с ошибкой: {failed}.',
    'Delivery: no destination contacted yet; {pending} pending, {failed} failed.':
      'Доставка: ни с одним назначением ещё не было связи; в ожидании: {pending}, с ошибкой: {failed}.',
  },
};
