import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/recording-integrity.ts. */
export const recordingIntegrity: Catalogue = {
  es: {
    'Chain entry holds what the catalogue says now':
      'La entrada de la cadena coincide con el catálogo actual',
    'Link to the previous entry (hash recomputed)': 'Enlace con la entrada anterior (hash recalculado)',
    'Anchored in the audit trail': 'Anclada en el registro de auditoría',
    'The rest of the day’s chain': 'El resto de la cadena del día',
    'Encrypted file {kind} read back and hashed': 'Archivo cifrado {kind} releído y con hash calculado',
    passed: 'correcta',
    FAILED: 'FALLIDA',
    'not checked': 'no comprobada',
    'Not checked: the audio itself is not decrypted; its plaintext hashes are covered by the chain entry.':
      'No comprobado: el audio no se descifra; sus hashes en claro los cubre la entrada de la cadena.',
    'Not checked here: the audit trail’s own hash chain (an administrator verifies it on the Audit page).':
      'No comprobada aquí: la propia cadena de hashes del registro de auditoría (un administrador la verifica en la página Auditoría).',
    'Intact: every check passed ({time}).': 'Íntegra: todas las comprobaciones correctas ({time}).',
    'NOT intact: {n} checks failed ({time}).': {
      one: 'NO íntegra: {n} comprobación fallida ({time}).',
      many: 'NO íntegra: {n} de comprobaciones fallidas ({time}).',
      other: 'NO íntegra: {n} comprobaciones fallidas ({time}).',
    },
    'Not confirmed: some checks could not be made ({time}).':
      'Sin confirmar: algunas comprobaciones no se pudieron hacer ({time}).',
    'Check now': 'Comprobar ahora',
    'Checking…': 'Comprobando…',
    Integrity: 'Integridad',
    'Reads this recording’s encrypted files back from storage and checks them and its entry in the day’s hash chain against the catalogue. Each check is written to the audit trail.':
      'Relee del almacenamiento los archivos cifrados de esta grabación y los comprueba, junto con su entrada en la cadena de hashes del día, frente al catálogo. Cada comprobación queda en el registro de auditoría.',
  },
  fr: {
    'Chain entry holds what the catalogue says now': 'L’entrée de la chaîne correspond au catalogue actuel',
    'Link to the previous entry (hash recomputed)': 'Lien avec l’entrée précédente (empreinte recalculée)',
    'Anchored in the audit trail': 'Ancrée dans le journal d’audit',
    'The rest of the day’s chain': 'Le reste de la chaîne du jour',
    'Encrypted file {kind} read back and hashed': 'Fichier chiffré {kind} relu et haché',
    passed: 'réussie',
    FAILED: 'ÉCHEC',
    'not checked': 'non vérifiée',
    'Not checked: the audio itself is not decrypted; its plaintext hashes are covered by the chain entry.':
      'Non vérifié : l’audio n’est pas déchiffré ; ses empreintes en clair sont couvertes par l’entrée de la chaîne.',
    'Not checked here: the audit trail’s own hash chain (an administrator verifies it on the Audit page).':
      'Non vérifiée ici : la chaîne d’empreintes du journal d’audit lui-même (un administrateur la vérifie sur la page Audit).',
    'Intact: every check passed ({time}).': 'Intacte : toutes les vérifications ont réussi ({time}).',
    'NOT intact: {n} checks failed ({time}).': {
      one: 'PAS intacte : {n} vérification en échec ({time}).',
      many: 'PAS intacte : {n} de vérifications en échec ({time}).',
      other: 'PAS intacte : {n} vérifications en échec ({time}).',
    },
    'Not confirmed: some checks could not be made ({time}).':
      'Non confirmée : certaines vérifications n’ont pas pu être faites ({time}).',
    'Check now': 'Vérifier maintenant',
    'Checking…': 'Vérification…',
    Integrity: 'Intégrité',
    'Reads this recording’s encrypted files back from storage and checks them and its entry in the day’s hash chain against the catalogue. Each check is written to the audit trail.':
      'Relit depuis le stockage les fichiers chiffrés de cet enregistrement et les vérifie, ainsi que son entrée dans la chaîne d’empreintes du jour, par rapport au catalogue. Chaque vérification est inscrite au journal d’audit.',
  },
  'pt-BR': {
    'Chain entry holds what the catalogue says now': 'A entrada da cadeia confere com o catálogo atual',
    'Link to the previous entry (hash recomputed)': 'Elo com a entrada anterior (hash recalculado)',
    'Anchored in the audit trail': 'Ancorada na trilha de auditoria',
    'The rest of the day’s chain': 'O restante da cadeia do dia',
    'Encrypted file {kind} read back and hashed': 'Arquivo criptografado {kind} relido e com hash calculado',
    passed: 'aprovada',
    FAILED: 'FALHOU',
    'not checked': 'não verificada',
    'Not checked: the audio itself is not decrypted; its plaintext hashes are covered by the chain entry.':
      'Não verificado: o áudio não é descriptografado; seus hashes em claro são cobertos pela entrada da cadeia.',
    'Not checked here: the audit trail’s own hash chain (an administrator verifies it on the Audit page).':
      'Não verificada aqui: a própria cadeia de hashes da trilha de auditoria (um administrador a verifica na página Auditoria).',
    'Intact: every check passed ({time}).': 'Íntegra: todas as verificações aprovadas ({time}).',
    'NOT intact: {n} checks failed ({time}).': {
      one: 'NÃO íntegra: {n} verificação falhou ({time}).',
      many: 'NÃO íntegra: {n} de verificações falharam ({time}).',
      other: 'NÃO íntegra: {n} verificações falharam ({time}).',
    },
    'Not confirmed: some checks could not be made ({time}).':
      'Não confirmada: algumas verificações não puderam ser feitas ({time}).',
    'Check now': 'Verificar agora',
    'Checking…': 'Verificando…',
    Integrity: 'Integridade',
    'Reads this recording’s encrypted files back from storage and checks them and its entry in the day’s hash chain against the catalogue. Each check is written to the audit trail.':
      'Relê do armazenamento os arquivos criptografados desta gravação e os verifica, junto com sua entrada na cadeia de hashes do dia, contra o catálogo. Cada verificação é registrada na trilha de auditoria.',
  },
  ru: {
    'Chain entry holds what the catalogue says now': 'Запись цепочки совпадает с текущим каталогом',
    'Link to the previous entry (hash recomputed)': 'Связь с предыдущей записью (хеш пересчитан)',
    'Anchored in the audit trail': 'Закреплена в журнале аудита',
    'The rest of the day’s chain': 'Остальная цепочка дня',
    'Encrypted file {kind} read back and hashed': 'Зашифрованный файл {kind} прочитан заново и захеширован',
    passed: 'пройдена',
    FAILED: 'НЕ ПРОЙДЕНА',
    'not checked': 'не проверялась',
    'Not checked: the audio itself is not decrypted; its plaintext hashes are covered by the chain entry.':
      'Не проверяется: аудио не расшифровывается; хеши открытого текста покрыты записью цепочки.',
    'Not checked here: the audit trail’s own hash chain (an administrator verifies it on the Audit page).':
      'Здесь не проверяется: собственная цепочка хешей журнала аудита (администратор проверяет её на странице «Аудит»).',
    'Intact: every check passed ({time}).': 'Целостна: все проверки пройдены ({time}).',
    'NOT intact: {n} checks failed ({time}).': {
      one: 'НЕ целостна: {n} проверка не пройдена ({time}).',
      few: 'НЕ целостна: {n} проверки не пройдены ({time}).',
      many: 'НЕ целостна: {n} проверок не пройдено ({time}).',
      other: 'НЕ целостна: {n} проверки не пройдены ({time}).',
    },
    'Not confirmed: some checks could not be made ({time}).':
      'Не подтверждено: некоторые проверки выполнить не удалось ({time}).',
    'Check now': 'Проверить сейчас',
    'Checking…': 'Проверка…',
    Integrity: 'Целостность',
    'Reads this recording’s encrypted files back from storage and checks them and its entry in the day’s hash chain against the catalogue. Each check is written to the audit trail.':
      'Заново читает из хранилища зашифрованные файлы этой записи и сверяет их и её запись в цепочке хешей дня с каталогом. Каждая проверка заносится в журнал аудита.',
  },
};
