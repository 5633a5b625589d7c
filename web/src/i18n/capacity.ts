import type { Catalogue } from '../i18n.js';

const BOUNDED =
  'Capacity: {pct} % in use — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process of {max} s allowed), {concurrency} at once; {admission}';
const UNBOUNDED =
  'Capacity: backlog unbounded — {calls}; post-call backlog {n} recordings ({minutes} audio-minutes, about {seconds} s to process), {concurrency} at once; {admission}';

/** Translations of the strings of web/src/capacity.ts. */
export const capacity: Catalogue = {
  es: {
    'Capacity: …': 'Capacidad: …',
    '{n} live calls': {
      one: '{n} llamada en curso',
      many: '{n} de llamadas en curso',
      other: '{n} llamadas en curso',
    },
    'taking new calls.': 'se aceptan llamadas nuevas.',
    'refusing new calls (503) until it drains.':
      'se rechazan llamadas nuevas (503) hasta que se vacíe la cola.',
    [BOUNDED]: {
      one: 'Capacidad: {pct} % en uso — {calls}; cola de procesamiento posterior: {n} grabación ({minutes} min de audio, unos {seconds} s de procesamiento de {max} s permitidos), {concurrency} a la vez; {admission}',
      many: 'Capacidad: {pct} % en uso — {calls}; cola de procesamiento posterior: {n} de grabaciones ({minutes} min de audio, unos {seconds} s de procesamiento de {max} s permitidos), {concurrency} a la vez; {admission}',
      other:
        'Capacidad: {pct} % en uso — {calls}; cola de procesamiento posterior: {n} grabaciones ({minutes} min de audio, unos {seconds} s de procesamiento de {max} s permitidos), {concurrency} a la vez; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Capacidad: cola sin límite — {calls}; cola de procesamiento posterior: {n} grabación ({minutes} min de audio, unos {seconds} s de procesamiento), {concurrency} a la vez; {admission}',
      many: 'Capacidad: cola sin límite — {calls}; cola de procesamiento posterior: {n} de grabaciones ({minutes} min de audio, unos {seconds} s de procesamiento), {concurrency} a la vez; {admission}',
      other:
        'Capacidad: cola sin límite — {calls}; cola de procesamiento posterior: {n} grabaciones ({minutes} min de audio, unos {seconds} s de procesamiento), {concurrency} a la vez; {admission}',
    },
  },
  fr: {
    'Capacity: …': 'Capacité : …',
    '{n} live calls': {
      one: '{n} appel en cours',
      many: '{n} d’appels en cours',
      other: '{n} appels en cours',
    },
    'taking new calls.': 'les nouveaux appels sont acceptés.',
    'refusing new calls (503) until it drains.':
      'les nouveaux appels sont refusés (503) jusqu’à ce que la file se vide.',
    [BOUNDED]: {
      one: 'Capacité : {pct} % utilisés — {calls} ; file de traitement après appel : {n} enregistrement ({minutes} min d’audio, environ {seconds} s de traitement sur {max} s autorisées), {concurrency} à la fois ; {admission}',
      many: 'Capacité : {pct} % utilisés — {calls} ; file de traitement après appel : {n} d’enregistrements ({minutes} min d’audio, environ {seconds} s de traitement sur {max} s autorisées), {concurrency} à la fois ; {admission}',
      other:
        'Capacité : {pct} % utilisés — {calls} ; file de traitement après appel : {n} enregistrements ({minutes} min d’audio, environ {seconds} s de traitement sur {max} s autorisées), {concurrency} à la fois ; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Capacité : file sans limite — {calls} ; file de traitement après appel : {n} enregistrement ({minutes} min d’audio, environ {seconds} s de traitement), {concurrency} à la fois ; {admission}',
      many: 'Capacité : file sans limite — {calls} ; file de traitement après appel : {n} d’enregistrements ({minutes} min d’audio, environ {seconds} s de traitement), {concurrency} à la fois ; {admission}',
      other:
        'Capacité : file sans limite — {calls} ; file de traitement après appel : {n} enregistrements ({minutes} min d’audio, environ {seconds} s de traitement), {concurrency} à la fois ; {admission}',
    },
  },
  'pt-BR': {
    'Capacity: …': 'Capacidade: …',
    '{n} live calls': {
      one: '{n} chamada em andamento',
      many: '{n} de chamadas em andamento',
      other: '{n} chamadas em andamento',
    },
    'taking new calls.': 'aceitando novas chamadas.',
    'refusing new calls (503) until it drains.': 'recusando novas chamadas (503) até a fila esvaziar.',
    [BOUNDED]: {
      one: 'Capacidade: {pct} % em uso — {calls}; fila de pós-processamento: {n} gravação ({minutes} min de áudio, cerca de {seconds} s de processamento de {max} s permitidos), {concurrency} por vez; {admission}',
      many: 'Capacidade: {pct} % em uso — {calls}; fila de pós-processamento: {n} de gravações ({minutes} min de áudio, cerca de {seconds} s de processamento de {max} s permitidos), {concurrency} por vez; {admission}',
      other:
        'Capacidade: {pct} % em uso — {calls}; fila de pós-processamento: {n} gravações ({minutes} min de áudio, cerca de {seconds} s de processamento de {max} s permitidos), {concurrency} por vez; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Capacidade: fila sem limite — {calls}; fila de pós-processamento: {n} gravação ({minutes} min de áudio, cerca de {seconds} s de processamento), {concurrency} por vez; {admission}',
      many: 'Capacidade: fila sem limite — {calls}; fila de pós-processamento: {n} de gravações ({minutes} min de áudio, cerca de {seconds} s de processamento), {concurrency} por vez; {admission}',
      other:
        'Capacidade: fila sem limite — {calls}; fila de pós-processamento: {n} gravações ({minutes} min de áudio, cerca de {seconds} s de processamento), {concurrency} por vez; {admission}',
    },
  },
  ru: {
    'Capacity: …': 'Ёмкость: …',
    '{n} live calls': {
      one: '{n} активный звонок',
      few: '{n} активных звонка',
      many: '{n} активных звонков',
      other: '{n} активного звонка',
    },
    'taking new calls.': 'новые звонки принимаются.',
    'refusing new calls (503) until it drains.':
      'новые звонки отклоняются (503), пока очередь не разгрузится.',
    [BOUNDED]: {
      one: 'Ёмкость: занято {pct} % — {calls}; очередь постобработки: {n} запись ({minutes} мин аудио, около {seconds} с обработки из допустимых {max} с), одновременно {concurrency}; {admission}',
      few: 'Ёмкость: занято {pct} % — {calls}; очередь постобработки: {n} записи ({minutes} мин аудио, около {seconds} с обработки из допустимых {max} с), одновременно {concurrency}; {admission}',
      many: 'Ёмкость: занято {pct} % — {calls}; очередь постобработки: {n} записей ({minutes} мин аудио, около {seconds} с обработки из допустимых {max} с), одновременно {concurrency}; {admission}',
      other:
        'Ёмкость: занято {pct} % — {calls}; очередь постобработки: {n} записи ({minutes} мин аудио, около {seconds} с обработки из допустимых {max} с), одновременно {concurrency}; {admission}',
    },
    [UNBOUNDED]: {
      one: 'Ёмкость: очередь без ограничения — {calls}; очередь постобработки: {n} запись ({minutes} мин аудио, около {seconds} с обработки), одновременно {concurrency}; {admission}',
      few: 'Ёмкость: очередь без ограничения — {calls}; очередь постобработки: {n} записи ({minutes} мин аудио, около {seconds} с обработки), одновременно {concurrency}; {admission}',
      many: 'Ёмкость: очередь без ограничения — {calls}; очередь постобработки: {n} записей ({minutes} мин аудио, около {seconds} с обработки), одновременно {concurrency}; {admission}',
      other:
        'Ёмкость: очередь без ограничения — {calls}; очередь постобработки: {n} записи ({minutes} мин аудио, около {seconds} с обработки), одновременно {concurrency}; {admission}',
    },
  },
};
