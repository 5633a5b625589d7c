import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/users-directory.ts. */
export const usersDirectory: Catalogue = {
  es: {
    directory: 'directorio',
    'directory password': 'contraseña del directorio',
    '{name} signs in with their directory password': '{name} inicia sesión con su contraseña del directorio',
    '{name} is synchronized from the directory entry {dn}. They sign in with their directory password, and the next synchronization sets again what the directory holds (role, name, groups, numbers, email).':
      '{name} se sincroniza desde la entrada del directorio {dn}. Inicia sesión con su contraseña del directorio, y la próxima sincronización vuelve a aplicar lo que tiene el directorio (rol, nombre, grupos, números, correo).',
    '{n} people in {directory}': {
      one: '{n} persona en {directory}',
      many: '{n} personas en {directory}',
      other: '{n} personas en {directory}',
    },
    'changed {name}: {fields}': 'se modificó {name}: {fields}',
    'disable {name} (no longer in the directory)': 'desactivar {name} (ya no está en el directorio)',
    'disabled {name} (no longer in the directory)': 'se desactivó {name} (ya no está en el directorio)',
    'skipped: {reason}': 'omitido: {reason}',
    'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.':
      'No hay ningún directorio configurado: defina directory.url (y directory.baseDn) en el archivo de configuración y reinicie el servidor.',
    'The directory cannot be reached: {error}': 'No se puede acceder al directorio: {error}',
    'Synchronized: {created} created, {updated} changed, {disabled} disabled':
      'Sincronizado: {created} creados, {updated} modificados, {disabled} desactivados',
    'The users already match the directory: nothing to synchronize':
      'Los usuarios ya coinciden con el directorio: no hay nada que sincronizar',
    'Checked: nothing is written yet. Synchronize to apply these changes.':
      'Comprobado: aún no se ha escrito nada. Sincronice para aplicar estos cambios.',
    Check: 'Comprobar',
    Synchronize: 'Sincronizar',
    'Directory (LDAP)': 'Directorio (LDAP)',
    'Users of the LDAP directory named in the config file (directory.url). Check shows what a synchronization would change, writing nothing; Synchronize applies it. Directory users sign in with their directory password.':
      'Usuarios del directorio LDAP indicado en el archivo de configuración (directory.url). Comprobar muestra lo que cambiaría una sincronización, sin escribir nada; Sincronizar la aplica. Los usuarios del directorio inician sesión con su contraseña del directorio.',
  },
  fr: {
    directory: 'annuaire',
    'directory password': 'mot de passe de l’annuaire',
    '{name} signs in with their directory password': '{name} se connecte avec son mot de passe de l’annuaire',
    '{name} is synchronized from the directory entry {dn}. They sign in with their directory password, and the next synchronization sets again what the directory holds (role, name, groups, numbers, email).':
      '{name} est synchronisé depuis l’entrée d’annuaire {dn}. Il se connecte avec son mot de passe de l’annuaire, et la prochaine synchronisation rétablit ce que contient l’annuaire (rôle, nom, groupes, numéros, e-mail).',
    '{n} people in {directory}': {
      one: '{n} personne dans {directory}',
      many: '{n} personnes dans {directory}',
      other: '{n} personnes dans {directory}',
    },
    'changed {name}: {fields}': '{name} modifié : {fields}',
    'disable {name} (no longer in the directory)': 'désactiver {name} (plus dans l’annuaire)',
    'disabled {name} (no longer in the directory)': '{name} désactivé (plus dans l’annuaire)',
    'skipped: {reason}': 'ignoré : {reason}',
    'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.':
      'Aucun annuaire n’est configuré : définissez directory.url (et directory.baseDn) dans le fichier de configuration, puis redémarrez le serveur.',
    'The directory cannot be reached: {error}': 'L’annuaire est injoignable : {error}',
    'Synchronized: {created} created, {updated} changed, {disabled} disabled':
      'Synchronisé : {created} créés, {updated} modifiés, {disabled} désactivés',
    'The users already match the directory: nothing to synchronize':
      'Les utilisateurs correspondent déjà à l’annuaire : rien à synchroniser',
    'Checked: nothing is written yet. Synchronize to apply these changes.':
      'Vérifié : rien n’est encore écrit. Synchronisez pour appliquer ces changements.',
    Check: 'Vérifier',
    Synchronize: 'Synchroniser',
    'Directory (LDAP)': 'Annuaire (LDAP)',
    'Users of the LDAP directory named in the config file (directory.url). Check shows what a synchronization would change, writing nothing; Synchronize applies it. Directory users sign in with their directory password.':
      'Utilisateurs de l’annuaire LDAP indiqué dans le fichier de configuration (directory.url). Vérifier montre ce qu’une synchronisation changerait, sans rien écrire ; Synchroniser l’applique. Les utilisateurs de l’annuaire se connectent avec leur mot de passe de l’annuaire.',
  },
  'pt-BR': {
    directory: 'diretório',
    'directory password': 'senha do diretório',
    '{name} signs in with their directory password': '{name} entra com a senha do diretório',
    '{name} is synchronized from the directory entry {dn}. They sign in with their directory password, and the next synchronization sets again what the directory holds (role, name, groups, numbers, email).':
      '{name} é sincronizado a partir da entrada do diretório {dn}. Entra com a senha do diretório, e a próxima sincronização aplica de novo o que o diretório contém (papel, nome, grupos, números, e-mail).',
    '{n} people in {directory}': {
      one: '{n} pessoa em {directory}',
      many: '{n} pessoas em {directory}',
      other: '{n} pessoas em {directory}',
    },
    'changed {name}: {fields}': '{name} alterado: {fields}',
    'disable {name} (no longer in the directory)': 'desativar {name} (não está mais no diretório)',
    'disabled {name} (no longer in the directory)': '{name} desativado (não está mais no diretório)',
    'skipped: {reason}': 'ignorado: {reason}',
    'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.':
      'Nenhum diretório está configurado: defina directory.url (e directory.baseDn) no arquivo de configuração e reinicie o servidor.',
    'The directory cannot be reached: {error}': 'Não foi possível acessar o diretório: {error}',
    'Synchronized: {created} created, {updated} changed, {disabled} disabled':
      'Sincronizado: {created} criados, {updated} alterados, {disabled} desativados',
    'The users already match the directory: nothing to synchronize':
      'Os usuários já conferem com o diretório: nada a sincronizar',
    'Checked: nothing is written yet. Synchronize to apply these changes.':
      'Verificado: nada foi gravado ainda. Sincronize para aplicar estas alterações.',
    Check: 'Verificar',
    Synchronize: 'Sincronizar',
    'Directory (LDAP)': 'Diretório (LDAP)',
    'Users of the LDAP directory named in the config file (directory.url). Check shows what a synchronization would change, writing nothing; Synchronize applies it. Directory users sign in with their directory password.':
      'Usuários do diretório LDAP indicado no arquivo de configuração (directory.url). Verificar mostra o que uma sincronização mudaria, sem gravar nada; Sincronizar a aplica. Os usuários do diretório entram com a senha do diretório.',
  },
  ru: {
    directory: 'каталог',
    'directory password': 'пароль каталога',
    '{name} signs in with their directory password': '{name} входит с паролем каталога',
    '{name} is synchronized from the directory entry {dn}. They sign in with their directory password, and the next synchronization sets again what the directory holds (role, name, groups, numbers, email).':
      '{name} синхронизируется из записи каталога {dn}. Вход выполняется с паролем каталога, а следующая синхронизация снова установит то, что хранится в каталоге (роль, имя, группы, номера, почта).',
    '{n} people in {directory}': {
      one: '{n} человек в {directory}',
      few: '{n} человека в {directory}',
      many: '{n} человек в {directory}',
      other: '{n} человека в {directory}',
    },
    'changed {name}: {fields}': '{name} изменён: {fields}',
    'disable {name} (no longer in the directory)': 'отключить {name} (больше нет в каталоге)',
    'disabled {name} (no longer in the directory)': '{name} отключён (больше нет в каталоге)',
    'skipped: {reason}': 'пропущено: {reason}',
    'No directory is configured: set directory.url (and directory.baseDn) in the config file, then restart the server.':
      'Каталог не настроен: задайте directory.url (и directory.baseDn) в файле конфигурации, затем перезапустите сервер.',
    'The directory cannot be reached: {error}': 'Каталог недоступен: {error}',
    'Synchronized: {created} created, {updated} changed, {disabled} disabled':
      'Синхронизировано: создано {created}, изменено {updated}, отключено {disabled}',
    'The users already match the directory: nothing to synchronize':
      'Пользователи уже совпадают с каталогом: синхронизировать нечего',
    'Checked: nothing is written yet. Synchronize to apply these changes.':
      'Проверено: пока ничего не записано. Синхронизируйте, чтобы применить изменения.',
    Check: 'Проверить',
    Synchronize: 'Синхронизировать',
    'Directory (LDAP)': 'Каталог (LDAP)',
    'Users of the LDAP directory named in the config file (directory.url). Check shows what a synchronization would change, writing nothing; Synchronize applies it. Directory users sign in with their directory password.':
      'Пользователи каталога LDAP, указанного в файле конфигурации (directory.url). «Проверить» показывает, что изменит синхронизация, ничего не записывая; «Синхронизировать» применяет её. Пользователи каталога входят с паролем каталога.',
  },
};
