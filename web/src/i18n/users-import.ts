import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/users-import.ts. */
export const usersImport: Catalogue = {
  es: {
    'disable {name} (not in the file)': 'desactivar {name} (no está en el archivo)',
    'Imported: {created} created, {updated} changed, {disabled} disabled':
      'Importado: {created} creados, {updated} modificados, {disabled} desactivados',
    'Disable the users who are not in the file': 'Desactivar los usuarios que no están en el archivo',
    '{n} to disable': '{n} por desactivar',
    Import: 'Importar',
    'line {n}': 'línea {n}',
    '{created} to create, {updated} to change, {unchanged} unchanged':
      '{created} por crear, {updated} por modificar, {unchanged} sin cambios',
    'create {name} ({role})': 'crear {name} ({role})',
    'change {name}: {fields}': 'modificar {name}: {fields}',
    'Choose a CSV file first': 'Elija primero un archivo CSV',
    'Every user in the file already matches: nothing to import':
      'Todos los usuarios del archivo ya coinciden: no hay nada que importar',
    'Checked: no problems. Import to apply these changes.':
      'Comprobado: sin problemas. Importe para aplicar estos cambios.',
    'Users as CSV': 'Usuarios en CSV',
    'Columns: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Lists are separated by ";". A blank cell leaves the field as it is.':
      'Columnas: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Las listas se separan con «;». Una celda vacía deja el campo como está.',
    'Check file': 'Comprobar archivo',
  },
  fr: {
    'disable {name} (not in the file)': 'désactiver {name} (absent du fichier)',
    'Imported: {created} created, {updated} changed, {disabled} disabled':
      'Importé : {created} créés, {updated} modifiés, {disabled} désactivés',
    'Disable the users who are not in the file': 'Désactiver les utilisateurs absents du fichier',
    '{n} to disable': '{n} à désactiver',
    Import: 'Importer',
    'line {n}': 'ligne {n}',
    '{created} to create, {updated} to change, {unchanged} unchanged':
      '{created} à créer, {updated} à modifier, {unchanged} inchangés',
    'create {name} ({role})': 'créer {name} ({role})',
    'change {name}: {fields}': 'modifier {name} : {fields}',
    'Choose a CSV file first': 'Choisissez d’abord un fichier CSV',
    'Every user in the file already matches: nothing to import':
      'Tous les utilisateurs du fichier correspondent déjà : rien à importer',
    'Checked: no problems. Import to apply these changes.':
      'Vérifié : aucun problème. Importez pour appliquer ces changements.',
    'Users as CSV': 'Utilisateurs en CSV',
    'Columns: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Lists are separated by ";". A blank cell leaves the field as it is.':
      'Colonnes : username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Les listes sont séparées par « ; ». Une cellule vide laisse le champ tel quel.',
    'Check file': 'Vérifier le fichier',
  },
  'pt-BR': {
    'disable {name} (not in the file)': 'desativar {name} (fora do arquivo)',
    'Imported: {created} created, {updated} changed, {disabled} disabled':
      'Importado: {created} criados, {updated} alterados, {disabled} desativados',
    'Disable the users who are not in the file': 'Desativar os usuários que não estão no arquivo',
    '{n} to disable': '{n} a desativar',
    Import: 'Importar',
    'line {n}': 'linha {n}',
    '{created} to create, {updated} to change, {unchanged} unchanged':
      '{created} a criar, {updated} a alterar, {unchanged} sem alteração',
    'create {name} ({role})': 'criar {name} ({role})',
    'change {name}: {fields}': 'alterar {name}: {fields}',
    'Choose a CSV file first': 'Escolha primeiro um arquivo CSV',
    'Every user in the file already matches: nothing to import':
      'Todos os usuários do arquivo já conferem: nada a importar',
    'Checked: no problems. Import to apply these changes.':
      'Verificado: nenhum problema. Importe para aplicar estas alterações.',
    'Users as CSV': 'Usuários em CSV',
    'Columns: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Lists are separated by ";". A blank cell leaves the field as it is.':
      'Colunas: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Listas são separadas por ";". Uma célula vazia deixa o campo como está.',
    'Check file': 'Verificar arquivo',
  },
  ru: {
    'disable {name} (not in the file)': 'отключить {name} (нет в файле)',
    'Imported: {created} created, {updated} changed, {disabled} disabled':
      'Импортировано: создано {created}, изменено {updated}, отключено {disabled}',
    'Disable the users who are not in the file': 'Отключить пользователей, которых нет в файле',
    '{n} to disable': 'будет отключено: {n}',
    Import: 'Импортировать',
    'line {n}': 'строка {n}',
    '{created} to create, {updated} to change, {unchanged} unchanged':
      'будет создано: {created}, изменено: {updated}, без изменений: {unchanged}',
    'create {name} ({role})': 'создать {name} ({role})',
    'change {name}: {fields}': 'изменить {name}: {fields}',
    'Choose a CSV file first': 'Сначала выберите CSV-файл',
    'Every user in the file already matches: nothing to import':
      'Все пользователи из файла уже совпадают: импортировать нечего',
    'Checked: no problems. Import to apply these changes.':
      'Проверено: ошибок нет. Импортируйте, чтобы применить изменения.',
    'Users as CSV': 'Пользователи в CSV',
    'Columns: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Lists are separated by ";". A blank cell leaves the field as it is.':
      'Столбцы: username, display_name, role, group, extra_groups, numbers, disabled, email, notify, attach, password. Элементы списков разделяются «;». Пустая ячейка оставляет поле без изменений.',
    'Check file': 'Проверить файл',
  },
};
