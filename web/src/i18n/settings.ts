import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/settings.ts. */
export const settings: Catalogue = {
  es: {
    'saved the site’s default language': 'idioma predeterminado del sitio guardado',
    'Console language': 'Idioma de la consola',
    'The default for users whose own language and group’s language are not set; else the browser’s.':
      'El predeterminado para los usuarios sin idioma propio ni de su grupo; si no, el del navegador.',
    'Who may download and export recordings': 'Quién puede descargar y exportar grabaciones',
    'Who may delete recordings ("nobody" cannot be undone)':
      'Quién puede eliminar grabaciones («nadie» no se puede deshacer)',
    'Loading…': 'Cargando…',
    nobody: 'nadie',
    '{level} and above': '{level} y superiores',
    'saved: {settings}': 'guardado: {settings}',
    '{label}:': '{label}:',
    Save: 'Guardar',
    Settings: 'Configuración',
    'Every change is written to the audit trail.': 'Cada cambio queda anotado en el registro de auditoría.',
  },
  fr: {
    'saved the site’s default language': 'langue par défaut du site enregistrée',
    'Console language': 'Langue de la console',
    'The default for users whose own language and group’s language are not set; else the browser’s.':
      'La langue par défaut des utilisateurs sans langue propre ni langue de groupe ; sinon, celle du navigateur.',
    'Who may download and export recordings': 'Qui peut télécharger et exporter les enregistrements',
    'Who may delete recordings ("nobody" cannot be undone)':
      'Qui peut supprimer les enregistrements (« personne » est irréversible)',
    'Loading…': 'Chargement…',
    nobody: 'personne',
    '{level} and above': '{level} et au-dessus',
    'saved: {settings}': 'enregistré : {settings}',
    '{label}:': '{label} :',
    Save: 'Enregistrer',
    Settings: 'Paramètres',
    'Every change is written to the audit trail.':
      'Chaque modification est consignée dans le journal d’audit.',
  },
  'pt-BR': {
    'saved the site’s default language': 'idioma padrão do site salvo',
    'Console language': 'Idioma do console',
    'The default for users whose own language and group’s language are not set; else the browser’s.':
      'O padrão para usuários sem idioma próprio nem do grupo; caso contrário, o do navegador.',
    'Who may download and export recordings': 'Quem pode baixar e exportar gravações',
    'Who may delete recordings ("nobody" cannot be undone)':
      'Quem pode excluir gravações ("ninguém" não pode ser desfeito)',
    'Loading…': 'Carregando…',
    nobody: 'ninguém',
    '{level} and above': '{level} e acima',
    'saved: {settings}': 'salvo: {settings}',
    '{label}:': '{label}:',
    Save: 'Salvar',
    Settings: 'Configurações',
    'Every change is written to the audit trail.': 'Toda alteração é registrada na trilha de auditoria.',
  },
  ru: {
    'saved the site’s default language': 'язык сайта по умолчанию сохранён',
    'Console language': 'Язык консоли',
    'The default for users whose own language and group’s language are not set; else the browser’s.':
      'Язык для пользователей, у которых не задан ни свой язык, ни язык группы; иначе — язык браузера.',
    'Who may download and export recordings': 'Кто может скачивать и экспортировать записи',
    'Who may delete recordings ("nobody" cannot be undone)':
      'Кто может удалять записи («никто» нельзя отменить)',
    'Loading…': 'Загрузка…',
    nobody: 'никто',
    '{level} and above': '{level} и выше',
    'saved: {settings}': 'сохранено: {settings}',
    '{label}:': '{label}:',
    Save: 'Сохранить',
    Settings: 'Настройки',
    'Every change is written to the audit trail.': 'Каждое изменение фиксируется в журнале аудита.',
  },
};
