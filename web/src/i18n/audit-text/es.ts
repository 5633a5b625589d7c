import type { Entry } from '../../i18n.js';

/** The audit sentences of web/src/audit-text.ts in Spanish. */
export const es: Record<string, Entry> = {
  'The server': 'El servidor',
  'The server admin token': 'El token de administrador del servidor',
  Someone: 'Alguien',
  '{who} stopped listening live to this recording': '{who} dejó de escuchar en directo esta grabación',
  '{who} stopped listening live to recording {id}': '{who} dejó de escuchar en directo la grabación {id}',
  '{who} stopped listening live to this recording after {seconds} s ({reason})':
    '{who} dejó de escuchar en directo esta grabación tras {seconds} s ({reason})',
  '{who} stopped listening live to recording {id} after {seconds} s ({reason})':
    '{who} dejó de escuchar en directo la grabación {id} tras {seconds} s ({reason})',
  '{who} played this recording': '{who} reprodujo esta grabación',
  '{who} played recording {id}': '{who} reprodujo la grabación {id}',
  '{who} viewed the waveform of this recording': '{who} vio la forma de onda de esta grabación',
  '{who} viewed the waveform of recording {id}': '{who} vio la forma de onda de la grabación {id}',
  '{who} started listening live to this recording': '{who} empezó a escuchar en directo esta grabación',
  '{who} started listening live to recording {id}': '{who} empezó a escuchar en directo la grabación {id}',
  '{who} exported the audio of this recording': '{who} exportó el audio de esta grabación',
  '{who} exported the audio of recording {id}': '{who} exportó el audio de la grabación {id}',
  '{who} decrypted for delivery this recording': '{who} descifró esta grabación para su entrega',
  '{who} decrypted for delivery recording {id}': '{who} descifró la grabación {id} para su entrega',
  '{who} downloaded this recording': '{who} descargó esta grabación',
  '{who} downloaded recording {id}': '{who} descargó la grabación {id}',
  '{who} exported this recording': '{who} exportó esta grabación',
  '{who} exported recording {id}': '{who} exportó la grabación {id}',
  '{who} deleted this recording': '{who} eliminó esta grabación',
  '{who} deleted recording {id}': '{who} eliminó la grabación {id}',
  '{who} preserved this recording': '{who} conservó esta grabación',
  '{who} preserved recording {id}': '{who} conservó la grabación {id}',
  '{who} lifted the preservation of this recording': '{who} dejó de conservar esta grabación',
  '{who} lifted the preservation of recording {id}': '{who} dejó de conservar la grabación {id}',
  '{who} added a note to this recording': '{who} añadió una nota a esta grabación',
  '{who} added a note to recording {id}': '{who} añadió una nota a la grabación {id}',
  '{who} deleted a note on this recording': '{who} eliminó una nota de esta grabación',
  '{who} deleted a note on recording {id}': '{who} eliminó una nota de la grabación {id}',
  '{who} pinned a note on this recording': '{who} fijó una nota en esta grabación',
  '{who} pinned a note on recording {id}': '{who} fijó una nota en la grabación {id}',
  '{who} unpinned a note on this recording': '{who} desfijó una nota en esta grabación',
  '{who} unpinned a note on recording {id}': '{who} desfijó una nota en la grabación {id}',
  '{who} changed the categories of this recording': '{who} cambió las categorías de esta grabación',
  '{who} changed the categories of recording {id}': '{who} cambió las categorías de la grabación {id}',
  '{who} stored this recording': '{who} almacenó esta grabación',
  '{who} stored recording {id}': '{who} almacenó la grabación {id}',
  '{who} gave up this recording with node {node}, whose data directory was lost ({reason})':
    '{who} abandonó esta grabación con el nodo {node}, cuyo directorio de datos se perdió ({reason})',
  '{who} gave up recording {id} with node {node}, whose data directory was lost ({reason})':
    '{who} abandonó la grabación {id} con el nodo {node}, cuyo directorio de datos se perdió ({reason})',
  '{who} asked node {name} to drain': '{who} pidió al nodo {name} que se vaciara',
  '{who} forgot node {name}, gone for good': '{who} olvidó el nodo {name}, desaparecido para siempre',
  '{who} sealed this recording in the tamper-evident recording chain':
    '{who} selló esta grabación en la cadena de grabaciones a prueba de manipulaciones',
  '{who} sealed recording {id} in the tamper-evident recording chain':
    '{who} selló la grabación {id} en la cadena de grabaciones a prueba de manipulaciones',
  '{who} purged this recording (its retention period was over)':
    '{who} purgó esta grabación (su período de retención había terminado)',
  '{who} purged recording {id} (its retention period was over)':
    '{who} purgó la grabación {id} (su período de retención había terminado)',
  '{who} paused the recording of this recording': '{who} pausó esta grabación',
  '{who} paused the recording of recording {id}': '{who} pausó la grabación {id}',
  '{who} resumed the recording of this recording': '{who} reanudó esta grabación',
  '{who} resumed the recording of recording {id}': '{who} reanudó la grabación {id}',
  '{who} started the recording of this recording': '{who} inició esta grabación',
  '{who} started the recording of recording {id}': '{who} inició la grabación {id}',
  '{who} stopped the recording of this recording': '{who} detuvo esta grabación',
  '{who} stopped the recording of recording {id}': '{who} detuvo la grabación {id}',
  '{who} was refused a pause of this recording': '{who} intentó pausar esta grabación, pero se le denegó',
  '{who} was refused a pause of recording {id}': '{who} intentó pausar la grabación {id}, pero se le denegó',
  '{who} was refused a resume of this recording': '{who} intentó reanudar esta grabación, pero se le denegó',
  '{who} was refused a resume of recording {id}':
    '{who} intentó reanudar la grabación {id}, pero se le denegó',
  '{who} was refused a start of this recording': '{who} intentó iniciar esta grabación, pero se le denegó',
  '{who} was refused a start of recording {id}': '{who} intentó iniciar la grabación {id}, pero se le denegó',
  '{who} was refused a stop of this recording': '{who} intentó detener esta grabación, pero se le denegó',
  '{who} was refused a stop of recording {id}': '{who} intentó detener la grabación {id}, pero se le denegó',
  '{who} changed the custom fields of this recording':
    '{who} cambió los campos personalizados de esta grabación',
  '{who} changed the custom fields of recording {id}':
    '{who} cambió los campos personalizados de la grabación {id}',
  '{who} evaluated this recording': '{who} evaluó esta grabación',
  '{who} evaluated recording {id}': '{who} evaluó la grabación {id}',
  '{who} deleted an evaluation of this recording': '{who} eliminó una evaluación de esta grabación',
  '{who} deleted an evaluation of recording {id}': '{who} eliminó una evaluación de la grabación {id}',
  '{who} signed in': '{who} inició sesión',
  '{who} signed out': '{who} cerró sesión',
  '{who} failed to sign in': '{who} no pudo iniciar sesión',
  '{who} was refused sign-in after repeated failures':
    '{who} intentó iniciar sesión, pero se le denegó tras varios intentos fallidos',
  '{who} rotated the server admin token': '{who} renovó el token de administrador del servidor',
  '{who} downloaded the users as CSV': '{who} descargó los usuarios en CSV',
  '{who} imported users from a CSV file': '{who} importó usuarios de un archivo CSV',
  '{n} disabled': '{n} desactivados',
  '{who} synchronized the users with the directory {name}':
    '{who} sincronizó los usuarios con el directorio {name}',
  '{who} created user {name} from the directory': '{who} creó el usuario {name} desde el directorio',
  '{who} changed user {name} from the directory': '{who} modificó el usuario {name} desde el directorio',
  '{who} changed the email notifications of user {name} from the directory':
    '{who} cambió las notificaciones por correo del usuario {name} desde el directorio',
  '{who} created user {name} from a CSV file': '{who} creó el usuario {name} desde un archivo CSV',
  '{who} changed user {name} from a CSV file': '{who} modificó el usuario {name} desde un archivo CSV',
  '{who} changed the email notifications of user {name} from a CSV file':
    '{who} cambió las notificaciones por correo del usuario {name} desde un archivo CSV',
  '{n} skipped': '{n} omitidos',
  '{n} people in the directory': {
    one: '{n} persona en el directorio',
    many: '{n} personas en el directorio',
    other: '{n} personas en el directorio',
  },
  '{created} created, {updated} changed, {unchanged} unchanged':
    '{created} creados, {updated} modificados, {unchanged} sin cambios',
  '{who} asked to retry the failed deliveries': '{who} pidió reintentar las entregas fallidas',
  '{who} failed to change their password': '{who} no pudo cambiar su contraseña',
  '{who} changed their password': '{who} cambió su contraseña',
  '{who} set the console language of user {name} to {language}':
    '{who} puso el idioma de la consola del usuario {name} en {language}',
  '{who} cleared the console language of user {name}':
    '{who} quitó el idioma de la consola del usuario {name}',
  '{who} set the default console language of group {name} to {language}':
    '{who} puso el idioma predeterminado de la consola del grupo {name} en {language}',
  '{who} cleared the default console language of group {name}':
    '{who} quitó el idioma predeterminado de la consola del grupo {name}',
  '{who} set the site’s default console language to {language}':
    '{who} puso el idioma predeterminado de la consola del sitio en {language}',
  '{who} cleared the site’s default console language':
    '{who} quitó el idioma predeterminado de la consola del sitio',
  '{who} created user {name}': '{who} creó el usuario {name}',
  'password set': 'contraseña establecida',
  'password removed': 'contraseña eliminada',
  '{field}: {from} → {to}': '{field}: {from} → {to}',
  '{who} checked the integrity of this recording': '{who} comprobó la integridad de esta grabación',
  '{who} checked the integrity of recording {id}': '{who} comprobó la integridad de la grabación {id}',
  '{who} changed the email notifications of user {name}':
    '{who} modificó las notificaciones por correo del usuario {name}',
  '{who} tested access to the delivery destination {name}':
    '{who} probó el acceso al destino de entrega {name}',
  intact: 'intacta',
  'NOT intact: {failed}': 'NO intacta: {failed}',
  'access works': 'el acceso funciona',
  'failed at {step}': 'falló en {step}',
  '{who} changed the recording filters': '{who} modificó los filtros de grabación',
  '{who} returned the recording filters to the configured ones':
    '{who} volvió a los filtros de grabación configurados',
  '{who} changed the retention policy': '{who} modificó la política de conservación',
  '{who} returned the retention policy to the configured one':
    '{who} volvió a la política de conservación configurada',
  'purges {n} recordings': {
    one: 'elimina {n} grabación',
    many: 'elimina {n} grabaciones',
    other: 'elimina {n} grabaciones',
  },
  '{who} changed user {name}': '{who} modificó el usuario {name}',
  '{who} deleted user {name}': '{who} eliminó el usuario {name}',
  '{who} changed the record mode of user {name}': '{who} cambió el modo de grabación del usuario {name}',
  '{who} created group {name}': '{who} creó el grupo {name}',
  '{who} changed the record mode of group {name}': '{who} cambió el modo de grabación del grupo {name}',
  '{who} created API token {name}': '{who} creó el token de API {name}',
  '{who} revoked API token {name}': '{who} revocó el token de API {name}',
  '{name} from {from} to {to}': '{name} de {from} a {to}',
  '{who} listed the encryption keys': '{who} consultó la lista de claves de cifrado',
  '{who} generated the encryption key {fp} ({type}, active)':
    '{who} generó la clave de cifrado {fp} ({type}, activa)',
  '{who} generated the encryption key {fp} ({type})': '{who} generó la clave de cifrado {fp} ({type})',
  '{who} made the encryption key {fp} the active key':
    '{who} convirtió la clave de cifrado {fp} en la clave activa',
  '{who} retired the encryption key {fp}, its recordings to be re-encrypted to the active key':
    '{who} retiró la clave de cifrado {fp}, con sus grabaciones por recifrar para la clave activa',
  '{who} retired the encryption key {fp}': '{who} retiró la clave de cifrado {fp}',
  '{who} asked to re-encrypt the recordings of the encryption key {fp} to the active key':
    '{who} pidió recifrar las grabaciones de la clave de cifrado {fp} para la clave activa',
  '{who} moved {n} files of the encryption key {fp} to the active key': {
    one: '{who} pasó {n} archivo de la clave de cifrado {fp} a la clave activa',
    many: '{who} pasó {n} archivos de la clave de cifrado {fp} a la clave activa',
    other: '{who} pasó {n} archivos de la clave de cifrado {fp} a la clave activa',
  },
  '{who} re-encrypted this recording’s {kind} to a new key':
    '{who} recifró el {kind} de esta grabación para una clave nueva',
  '{who} re-encrypted recording {id}’s {kind} to a new key':
    '{who} recifró el {kind} de la grabación {id} para una clave nueva',
  '{n} files failed': {
    one: '{n} archivo falló',
    many: '{n} archivos fallaron',
    other: '{n} archivos fallaron',
  },
  '{who} added the custom field {name}': '{who} añadió el campo personalizado {name}',
  '{who} changed the custom field {name}': '{who} modificó el campo personalizado {name}',
  '{who} deleted the custom field {name}': '{who} eliminó el campo personalizado {name}',
  '{who} created the evaluation form {name}': '{who} creó el formulario de evaluación {name}',
  '{who} deleted the evaluation form {name}': '{who} eliminó el formulario de evaluación {name}',
  '{who} changed {changes}': '{who} cambió la configuración: {changes}',
  '{who} changed': '{who} cambió la configuración',
  'the encryption keys': 'las claves de cifrado',
  'the custom field {name}': 'el campo personalizado {name}',
  'the evaluation form {name}': 'el formulario de evaluación {name}',
  'this recording': 'esta grabación',
  'recording {id}': 'grabación {id}',
  'user {name}': 'usuario {name}',
  'group {name}': 'grupo {name}',
  'API token {name}': 'token de API {name}',
  '(none)': '(ninguno)',
  '{sentence}: {changes}': '{sentence}: {changes}',
  '{name} cleared (was {from})': '{name} vaciado (antes {from})',
  '{name} set to {to}': '{name} establecido en {to}',
  '{sentence} (no change)': '{sentence} (sin cambios)',
  'agent {agent}, {form}: {score} %': 'agente {agent}, {form}: {score} %',
  'agent {agent}: {score} %': 'agente {agent}: {score} %',
  'agent {agent}, by {evaluator}: {score} %': 'agente {agent}, por {evaluator}: {score} %',
  'day {day}, entry {seq}': 'día {day}, entrada {seq}',
  'range {range}': 'rango {range}',
  '{who} {action} {what}': '{who}: {action}, {what}',
  '{who} {action}': '{who}: {action}',
  '{sentence} with an API token': '{sentence} con un token de API',
  '{sentence} from {ip}': '{sentence} desde {ip}',
  '{who} exported {n} recordings, this one among them,': {
    one: '{who} exportó {n} grabación (esta incluida)',
    many: '{who} exportó {n} grabaciones (esta incluida)',
    other: '{who} exportó {n} grabaciones (esta incluida)',
  },
  '{who} exported {n} recordings': {
    one: '{who} exportó {n} grabación',
    many: '{who} exportó {n} grabaciones',
    other: '{who} exportó {n} grabaciones',
  },
  '{who} deleted the custom field {name} and its {n} recording values': {
    one: '{who} eliminó el campo personalizado {name} y su valor en {n} grabación',
    many: '{who} eliminó el campo personalizado {name} y sus valores en {n} grabaciones',
    other: '{who} eliminó el campo personalizado {name} y sus valores en {n} grabaciones',
  },
  '{n} questions, {points} points': {
    one: '{n} pregunta, {points} puntos',
    many: '{n} preguntas, {points} puntos',
    other: '{n} preguntas, {points} puntos',
  },
  '{who} sent this recording to the journal mailbox':
    '{who} envió esta grabación al buzón de registro en diario',
  '{who} sent recording {id} to the journal mailbox':
    '{who} envió la grabación {id} al buzón de registro en diario',
  '{who} could not send this recording to the journal mailbox':
    '{who} no pudo enviar esta grabación al buzón de registro en diario',
  '{who} could not send recording {id} to the journal mailbox':
    '{who} no pudo enviar la grabación {id} al buzón de registro en diario',
  '{who} gave up sending this recording to the journal mailbox':
    '{who} dejó de intentar enviar esta grabación al buzón de registro en diario',
  '{who} gave up sending recording {id} to the journal mailbox':
    '{who} dejó de intentar enviar la grabación {id} al buzón de registro en diario',
  '{who} purged this recording once the journal mailbox had it':
    '{who} purgó esta grabación una vez recibida en el buzón de registro en diario',
  '{who} purged recording {id} once the journal mailbox had it':
    '{who} purgó la grabación {id} una vez recibida en el buzón de registro en diario',
  'to {to}, {size} bytes, Message-ID {messageId}': {
    one: 'a {to}, {size} byte, Message-ID {messageId}',
    many: 'a {to}, {size} bytes, Message-ID {messageId}',
    other: 'a {to}, {size} bytes, Message-ID {messageId}',
  },
  'attempt {attempt}: {error}; next attempt {at}': 'intento {attempt}: {error}; próximo intento {at}',
  'attempt {attempt}: {error}': 'intento {attempt}: {error}',
  '{n} files removed': {
    one: '{n} archivo eliminado',
    many: '{n} archivos eliminados',
    other: '{n} archivos eliminados',
  },
};
