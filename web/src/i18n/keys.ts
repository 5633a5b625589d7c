import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/keys.ts. */
export const keys: Catalogue = {
  es: {
    'Loading…': 'Cargando…',
    active: 'activo',
    'retired {date}': 'retirado el {date}',
    inactive: 'inactivo',
    'Encryption keys': 'Claves de cifrado',
    'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.':
      'Las grabaciones se cifran con OpenPGP para la clave activa. Para rotar y retirar claves, use `srs keys`.',
    Fingerprint: 'Huella digital',
    Algorithm: 'Algoritmo',
    Created: 'Creación',
    State: 'Estado',
    Files: 'Archivos',
  },
  fr: {
    'Loading…': 'Chargement…',
    active: 'actif',
    'retired {date}': 'retiré le {date}',
    inactive: 'inactif',
    'Encryption keys': 'Clés de chiffrement',
    'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.':
      'Les enregistrements sont chiffrés avec OpenPGP pour la clé active. Pour renouveler et retirer des clés, utilisez `srs keys`.',
    Fingerprint: 'Empreinte',
    Algorithm: 'Algorithme',
    Created: 'Création',
    State: 'État',
    Files: 'Fichiers',
  },
  'pt-BR': {
    'Loading…': 'Carregando…',
    active: 'ativo',
    'retired {date}': 'retirado em {date}',
    inactive: 'inativo',
    'Encryption keys': 'Chaves de criptografia',
    'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.':
      'As gravações são criptografadas com OpenPGP para a chave ativa. Para fazer a rotação e retirar chaves, use `srs keys`.',
    Fingerprint: 'Impressão digital',
    Algorithm: 'Algoritmo',
    Created: 'Criação',
    State: 'Estado',
    Files: 'Arquivos',
  },
  ru: {
    'Loading…': 'Загрузка…',
    active: 'активен',
    'retired {date}': 'выведен из использования {date}',
    inactive: 'неактивен',
    'Encryption keys': 'Ключи шифрования',
    'Recordings are encrypted with OpenPGP to the active key. Rotate and retire keys with `srs keys`.':
      'Записи шифруются с помощью OpenPGP для активного ключа. Для ротации и вывода ключей из использования служит `srs keys`.',
    Fingerprint: 'Отпечаток',
    Algorithm: 'Алгоритм',
    Created: 'Создан',
    State: 'Состояние',
    Files: 'Файлы',
  },
};
