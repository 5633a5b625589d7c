import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/recording-filters.ts. */
export const recordingFilters: Catalogue = {
  es: {
    'Recording filters': 'Filtros de grabación',
    'Saved here: these filters replace the server’s configured ones on every node.':
      'Guardados aquí: estos filtros sustituyen a los configurados en el servidor, en todos los nodos.',
    'The server’s configured filters apply until filters are saved here.':
      'Se aplican los filtros configurados en el servidor hasta que se guarden filtros aquí.',
    'inbound and outbound': 'entrantes y salientes',
    'inbound only': 'solo entrantes',
    'outbound only': 'solo salientes',
    'internal and external': 'internas y externas',
    'internal only': 'solo internas',
    'external only': 'solo externas',
    'answered, no audio kept': 'atendida, sin conservar audio',
    declined: 'rechazada',
    'saved the recording filters': 'filtros de grabación guardados',
    'Calls recorded by direction:': 'Llamadas grabadas según la dirección:',
    'Calls recorded by scope:': 'Llamadas grabadas según el ámbito:',
    'Number patterns, one a line or comma-separated: digits, + * #, X or . for one digit, ! for any digits.':
      'Patrones de número, uno por línea o separados por comas: dígitos, + * #, X o . para un dígito, ! para cualquier cantidad de dígitos.',
    'Internal numbers:': 'Números internos:',
    'Blacklist (remote numbers never recorded):': 'Lista negra (números remotos que nunca se graban):',
    'An excluded call is:': 'Una llamada excluida es:',
    'SIP status of a declined call:': 'Estado SIP de una llamada rechazada:',
    Save: 'Guardar',
    'Use the configured filters': 'Usar los filtros configurados',
    'the configured filters apply again': 'los filtros configurados se aplican de nuevo',
  },
  fr: {
    'Recording filters': 'Filtres d’enregistrement',
    'Saved here: these filters replace the server’s configured ones on every node.':
      'Enregistrés ici : ces filtres remplacent ceux configurés sur le serveur, sur tous les nœuds.',
    'The server’s configured filters apply until filters are saved here.':
      'Les filtres configurés sur le serveur s’appliquent tant qu’aucun filtre n’est enregistré ici.',
    'inbound and outbound': 'entrants et sortants',
    'inbound only': 'entrants uniquement',
    'outbound only': 'sortants uniquement',
    'internal and external': 'internes et externes',
    'internal only': 'internes uniquement',
    'external only': 'externes uniquement',
    'answered, no audio kept': 'décroché, sans conserver l’audio',
    declined: 'refusé',
    'saved the recording filters': 'filtres d’enregistrement enregistrés',
    'Calls recorded by direction:': 'Appels enregistrés selon le sens :',
    'Calls recorded by scope:': 'Appels enregistrés selon la portée :',
    'Number patterns, one a line or comma-separated: digits, + * #, X or . for one digit, ! for any digits.':
      'Motifs de numéro, un par ligne ou séparés par des virgules : chiffres, + * #, X ou . pour un chiffre, ! pour un nombre quelconque de chiffres.',
    'Internal numbers:': 'Numéros internes :',
    'Blacklist (remote numbers never recorded):': 'Liste noire (numéros distants jamais enregistrés) :',
    'An excluded call is:': 'Un appel exclu est :',
    'SIP status of a declined call:': 'Statut SIP d’un appel refusé :',
    Save: 'Enregistrer',
    'Use the configured filters': 'Utiliser les filtres configurés',
    'the configured filters apply again': 'les filtres configurés s’appliquent de nouveau',
  },
  'pt-BR': {
    'Recording filters': 'Filtros de gravação',
    'Saved here: these filters replace the server’s configured ones on every node.':
      'Salvos aqui: estes filtros substituem os configurados no servidor, em todos os nós.',
    'The server’s configured filters apply until filters are saved here.':
      'Os filtros configurados no servidor valem até que filtros sejam salvos aqui.',
    'inbound and outbound': 'de entrada e de saída',
    'inbound only': 'só de entrada',
    'outbound only': 'só de saída',
    'internal and external': 'internas e externas',
    'internal only': 'só internas',
    'external only': 'só externas',
    'answered, no audio kept': 'atendida, sem guardar áudio',
    declined: 'recusada',
    'saved the recording filters': 'filtros de gravação salvos',
    'Calls recorded by direction:': 'Chamadas gravadas pela direção:',
    'Calls recorded by scope:': 'Chamadas gravadas pelo escopo:',
    'Number patterns, one a line or comma-separated: digits, + * #, X or . for one digit, ! for any digits.':
      'Padrões de número, um por linha ou separados por vírgulas: dígitos, + * #, X ou . para um dígito, ! para quaisquer dígitos.',
    'Internal numbers:': 'Números internos:',
    'Blacklist (remote numbers never recorded):': 'Lista negra (números remotos nunca gravados):',
    'An excluded call is:': 'Uma chamada excluída é:',
    'SIP status of a declined call:': 'Status SIP de uma chamada recusada:',
    Save: 'Salvar',
    'Use the configured filters': 'Usar os filtros configurados',
    'the configured filters apply again': 'os filtros configurados voltam a valer',
  },
  ru: {
    'Recording filters': 'Фильтры записи',
    'Saved here: these filters replace the server’s configured ones on every node.':
      'Сохранены здесь: эти фильтры заменяют заданные в конфигурации сервера на всех узлах.',
    'The server’s configured filters apply until filters are saved here.':
      'Пока здесь не сохранены фильтры, действуют заданные в конфигурации сервера.',
    'inbound and outbound': 'входящие и исходящие',
    'inbound only': 'только входящие',
    'outbound only': 'только исходящие',
    'internal and external': 'внутренние и внешние',
    'internal only': 'только внутренние',
    'external only': 'только внешние',
    'answered, no audio kept': 'принимается, аудио не сохраняется',
    declined: 'отклоняется',
    'saved the recording filters': 'фильтры записи сохранены',
    'Calls recorded by direction:': 'Записываемые вызовы по направлению:',
    'Calls recorded by scope:': 'Записываемые вызовы по охвату:',
    'Number patterns, one a line or comma-separated: digits, + * #, X or . for one digit, ! for any digits.':
      'Шаблоны номеров, по одному в строке или через запятую: цифры, + * #, X или . — одна цифра, ! — любое число цифр.',
    'Internal numbers:': 'Внутренние номера:',
    'Blacklist (remote numbers never recorded):':
      'Чёрный список (удалённые номера, которые никогда не записываются):',
    'An excluded call is:': 'Исключённый вызов:',
    'SIP status of a declined call:': 'SIP-статус отклонённого вызова:',
    Save: 'Сохранить',
    'Use the configured filters': 'Использовать настроенные фильтры',
    'the configured filters apply again': 'снова действуют настроенные фильтры',
  },
};
