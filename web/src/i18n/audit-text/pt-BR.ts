import type { Entry } from '../../i18n.js';

/** The audit sentences of web/src/audit-text.ts in Portuguese (Brazil). */
export const ptBR: Record<string, Entry> = {
  'The server': 'O servidor',
  'The server admin token': 'O token de administrador do servidor',
  Someone: 'Alguém',
  '{who} stopped listening live to this recording': '{who} parou de ouvir ao vivo esta gravação',
  '{who} stopped listening live to recording {id}': '{who} parou de ouvir ao vivo a gravação {id}',
  '{who} stopped listening live to this recording after {seconds} s ({reason})':
    '{who} parou de ouvir ao vivo esta gravação após {seconds} s ({reason})',
  '{who} stopped listening live to recording {id} after {seconds} s ({reason})':
    '{who} parou de ouvir ao vivo a gravação {id} após {seconds} s ({reason})',
  '{who} played this recording': '{who} reproduziu esta gravação',
  '{who} played recording {id}': '{who} reproduziu a gravação {id}',
  '{who} viewed the waveform of this recording': '{who} visualizou a forma de onda desta gravação',
  '{who} viewed the waveform of recording {id}': '{who} visualizou a forma de onda da gravação {id}',
  '{who} started listening live to this recording': '{who} começou a ouvir ao vivo esta gravação',
  '{who} started listening live to recording {id}': '{who} começou a ouvir ao vivo a gravação {id}',
  '{who} exported the audio of this recording': '{who} exportou o áudio desta gravação',
  '{who} exported the audio of recording {id}': '{who} exportou o áudio da gravação {id}',
  '{who} decrypted for delivery this recording': '{who} descriptografou esta gravação para entrega',
  '{who} decrypted for delivery recording {id}': '{who} descriptografou a gravação {id} para entrega',
  '{who} downloaded this recording': '{who} baixou esta gravação',
  '{who} downloaded recording {id}': '{who} baixou a gravação {id}',
  '{who} exported this recording': '{who} exportou esta gravação',
  '{who} exported recording {id}': '{who} exportou a gravação {id}',
  '{who} deleted this recording': '{who} excluiu esta gravação',
  '{who} deleted recording {id}': '{who} excluiu a gravação {id}',
  '{who} preserved this recording': '{who} preservou esta gravação',
  '{who} preserved recording {id}': '{who} preservou a gravação {id}',
  '{who} lifted the preservation of this recording': '{who} removeu a preservação desta gravação',
  '{who} lifted the preservation of recording {id}': '{who} removeu a preservação da gravação {id}',
  '{who} added a note to this recording': '{who} adicionou uma nota a esta gravação',
  '{who} added a note to recording {id}': '{who} adicionou uma nota à gravação {id}',
  '{who} deleted a note on this recording': '{who} excluiu uma nota desta gravação',
  '{who} deleted a note on recording {id}': '{who} excluiu uma nota da gravação {id}',
  '{who} pinned a note on this recording': '{who} fixou uma nota nesta gravação',
  '{who} pinned a note on recording {id}': '{who} fixou uma nota na gravação {id}',
  '{who} unpinned a note on this recording': '{who} desafixou uma nota nesta gravação',
  '{who} unpinned a note on recording {id}': '{who} desafixou uma nota na gravação {id}',
  '{who} changed the categories of this recording': '{who} alterou as categorias desta gravação',
  '{who} changed the categories of recording {id}': '{who} alterou as categorias da gravação {id}',
  '{who} stored this recording': '{who} armazenou esta gravação',
  '{who} stored recording {id}': '{who} armazenou a gravação {id}',
  '{who} gave up this recording with node {node}, whose data directory was lost ({reason})':
    '{who} abandonou esta gravação com o nó {node}, cujo diretório de dados foi perdido ({reason})',
  '{who} gave up recording {id} with node {node}, whose data directory was lost ({reason})':
    '{who} abandonou a gravação {id} com o nó {node}, cujo diretório de dados foi perdido ({reason})',
  '{who} asked node {name} to drain': '{who} pediu ao nó {name} que se esvaziasse',
  '{who} forgot node {name}, gone for good': '{who} esqueceu o nó {name}, desaparecido para sempre',
  '{who} sealed this recording in the tamper-evident recording chain':
    '{who} selou esta gravação na cadeia de gravações à prova de adulteração',
  '{who} sealed recording {id} in the tamper-evident recording chain':
    '{who} selou a gravação {id} na cadeia de gravações à prova de adulteração',
  '{who} purged this recording (its retention period was over)':
    '{who} expurgou esta gravação (o período de retenção havia terminado)',
  '{who} purged recording {id} (its retention period was over)':
    '{who} expurgou a gravação {id} (o período de retenção havia terminado)',
  '{who} paused the recording of this recording': '{who} pausou esta gravação',
  '{who} paused the recording of recording {id}': '{who} pausou a gravação {id}',
  '{who} resumed the recording of this recording': '{who} retomou esta gravação',
  '{who} resumed the recording of recording {id}': '{who} retomou a gravação {id}',
  '{who} started the recording of this recording': '{who} iniciou esta gravação',
  '{who} started the recording of recording {id}': '{who} iniciou a gravação {id}',
  '{who} stopped the recording of this recording': '{who} interrompeu esta gravação',
  '{who} stopped the recording of recording {id}': '{who} interrompeu a gravação {id}',
  '{who} was refused a pause of this recording': '{who} teve negada a pausa desta gravação',
  '{who} was refused a pause of recording {id}': '{who} teve negada a pausa da gravação {id}',
  '{who} was refused a resume of this recording': '{who} teve negada a retomada desta gravação',
  '{who} was refused a resume of recording {id}': '{who} teve negada a retomada da gravação {id}',
  '{who} was refused a start of this recording': '{who} teve negado o início desta gravação',
  '{who} was refused a start of recording {id}': '{who} teve negado o início da gravação {id}',
  '{who} was refused a stop of this recording': '{who} teve negada a interrupção desta gravação',
  '{who} was refused a stop of recording {id}': '{who} teve negada a interrupção da gravação {id}',
  '{who} changed the custom fields of this recording':
    '{who} alterou os campos personalizados desta gravação',
  '{who} changed the custom fields of recording {id}':
    '{who} alterou os campos personalizados da gravação {id}',
  '{who} evaluated this recording': '{who} avaliou esta gravação',
  '{who} evaluated recording {id}': '{who} avaliou a gravação {id}',
  '{who} deleted an evaluation of this recording': '{who} excluiu uma avaliação desta gravação',
  '{who} deleted an evaluation of recording {id}': '{who} excluiu uma avaliação da gravação {id}',
  '{who} signed in': '{who} fez login',
  '{who} signed out': '{who} fez logout',
  '{who} failed to sign in': '{who} não conseguiu fazer login',
  '{who} was refused sign-in after repeated failures': '{who} teve o login recusado após falhas repetidas',
  '{who} rotated the server admin token': '{who} renovou o token de administrador do servidor',
  '{who} downloaded the users as CSV': '{who} baixou os usuários em CSV',
  '{who} imported users from a CSV file': '{who} importou usuários de um arquivo CSV',
  '{n} disabled': '{n} desativados',
  '{who} synchronized the users with the directory {name}':
    '{who} sincronizou os usuários com o diretório {name}',
  '{who} created user {name} from the directory': '{who} criou o usuário {name} a partir do diretório',
  '{who} changed user {name} from the directory': '{who} alterou o usuário {name} a partir do diretório',
  '{who} changed the email notifications of user {name} from the directory':
    '{who} alterou as notificações por e-mail do usuário {name} a partir do diretório',
  '{who} created user {name} from a CSV file': '{who} criou o usuário {name} a partir de um arquivo CSV',
  '{who} changed user {name} from a CSV file': '{who} alterou o usuário {name} a partir de um arquivo CSV',
  '{who} changed the email notifications of user {name} from a CSV file':
    '{who} alterou as notificações por e-mail do usuário {name} a partir de um arquivo CSV',
  '{n} skipped': '{n} ignorados',
  '{n} people in the directory': {
    one: '{n} pessoa no diretório',
    many: '{n} pessoas no diretório',
    other: '{n} pessoas no diretório',
  },
  '{created} created, {updated} changed, {unchanged} unchanged':
    '{created} criados, {updated} alterados, {unchanged} sem alteração',
  '{who} asked to retry the failed deliveries': '{who} pediu para repetir as entregas com falha',
  '{who} failed to change their password': '{who} não conseguiu alterar a senha',
  '{who} changed their password': '{who} alterou a própria senha',
  '{who} set the console language of user {name} to {language}':
    '{who} definiu o idioma do console do usuário {name} como {language}',
  '{who} cleared the console language of user {name}': '{who} removeu o idioma do console do usuário {name}',
  '{who} set the default console language of group {name} to {language}':
    '{who} definiu o idioma padrão do console do grupo {name} como {language}',
  '{who} cleared the default console language of group {name}':
    '{who} removeu o idioma padrão do console do grupo {name}',
  '{who} set the site’s default console language to {language}':
    '{who} definiu o idioma padrão do console do site como {language}',
  '{who} cleared the site’s default console language': '{who} removeu o idioma padrão do console do site',
  '{who} created user {name}': '{who} criou o usuário {name}',
  'password set': 'senha definida',
  'password removed': 'senha removida',
  '{field}: {from} → {to}': '{field}: {from} → {to}',
  '{who} checked the integrity of this recording': '{who} verificou a integridade desta gravação',
  '{who} checked the integrity of recording {id}': '{who} verificou a integridade da gravação {id}',
  '{who} changed the email notifications of user {name}':
    '{who} alterou as notificações por e-mail do usuário {name}',
  '{who} tested access to the delivery destination {name}':
    '{who} testou o acesso ao destino de entrega {name}',
  intact: 'íntegra',
  'NOT intact: {failed}': 'NÃO íntegra: {failed}',
  'access works': 'o acesso funciona',
  'failed at {step}': 'falhou em {step}',
  '{who} changed the recording filters': '{who} alterou os filtros de gravação',
  '{who} returned the recording filters to the configured ones':
    '{who} voltou aos filtros de gravação configurados',
  '{who} changed the retention policy': '{who} alterou a política de retenção',
  '{who} returned the retention policy to the configured one':
    '{who} voltou à política de retenção configurada',
  'purges {n} recordings': {
    one: 'remove {n} gravação',
    many: 'remove {n} gravações',
    other: 'remove {n} gravações',
  },
  '{who} changed user {name}': '{who} alterou o usuário {name}',
  '{who} deleted user {name}': '{who} excluiu o usuário {name}',
  '{who} changed the record mode of user {name}': '{who} alterou o modo de gravação do usuário {name}',
  '{who} created group {name}': '{who} criou o grupo {name}',
  '{who} changed the record mode of group {name}': '{who} alterou o modo de gravação do grupo {name}',
  '{who} created API token {name}': '{who} criou o token de API {name}',
  '{who} revoked API token {name}': '{who} revogou o token de API {name}',
  '{name} from {from} to {to}': '{name} de {from} para {to}',
  '{who} listed the encryption keys': '{who} consultou a lista de chaves de criptografia',
  '{who} generated the encryption key {fp} ({type}, active)':
    '{who} gerou a chave de criptografia {fp} ({type}, ativa)',
  '{who} generated the encryption key {fp} ({type})': '{who} gerou a chave de criptografia {fp} ({type})',
  '{who} made the encryption key {fp} the active key':
    '{who} tornou a chave de criptografia {fp} a chave ativa',
  '{who} retired the encryption key {fp}, its recordings to be re-encrypted to the active key':
    '{who} retirou a chave de criptografia {fp}, com suas gravações a recriptografar para a chave ativa',
  '{who} retired the encryption key {fp}': '{who} retirou a chave de criptografia {fp}',
  '{who} asked to re-encrypt the recordings of the encryption key {fp} to the active key':
    '{who} pediu para recriptografar as gravações da chave de criptografia {fp} para a chave ativa',
  '{who} moved {n} files of the encryption key {fp} to the active key': {
    one: '{who} passou {n} arquivo da chave de criptografia {fp} para a chave ativa',
    many: '{who} passou {n} arquivos da chave de criptografia {fp} para a chave ativa',
    other: '{who} passou {n} arquivos da chave de criptografia {fp} para a chave ativa',
  },
  '{who} re-encrypted this recording’s {kind} to a new key':
    '{who} recriptografou o {kind} desta gravação para uma nova chave',
  '{who} re-encrypted recording {id}’s {kind} to a new key':
    '{who} recriptografou o {kind} da gravação {id} para uma nova chave',
  '{n} files failed': {
    one: '{n} arquivo falhou',
    many: '{n} arquivos falharam',
    other: '{n} arquivos falharam',
  },
  '{who} added the custom field {name}': '{who} adicionou o campo personalizado {name}',
  '{who} changed the custom field {name}': '{who} alterou o campo personalizado {name}',
  '{who} deleted the custom field {name}': '{who} excluiu o campo personalizado {name}',
  '{who} created the evaluation form {name}': '{who} criou o formulário de avaliação {name}',
  '{who} deleted the evaluation form {name}': '{who} excluiu o formulário de avaliação {name}',
  '{who} changed {changes}': '{who} alterou as configurações: {changes}',
  '{who} changed': '{who} alterou as configurações',
  'the encryption keys': 'as chaves de criptografia',
  'the custom field {name}': 'o campo personalizado {name}',
  'the evaluation form {name}': 'o formulário de avaliação {name}',
  'this recording': 'esta gravação',
  'recording {id}': 'gravação {id}',
  'user {name}': 'usuário {name}',
  'group {name}': 'grupo {name}',
  'API token {name}': 'token de API {name}',
  '(none)': '(nenhum)',
  '{sentence}: {changes}': '{sentence}: {changes}',
  '{name} cleared (was {from})': '{name} apagado (antes {from})',
  '{name} set to {to}': '{name} definido como {to}',
  '{sentence} (no change)': '{sentence} (sem alterações)',
  'agent {agent}, {form}: {score} %': 'agente {agent}, {form}: {score} %',
  'agent {agent}: {score} %': 'agente {agent}: {score} %',
  'agent {agent}, by {evaluator}: {score} %': 'agente {agent}, por {evaluator}: {score} %',
  'day {day}, entry {seq}': 'dia {day}, entrada {seq}',
  'range {range}': 'intervalo {range}',
  '{who} {action} {what}': '{who}: {action}, {what}',
  '{who} {action}': '{who}: {action}',
  '{sentence} with an API token': '{sentence} com um token de API',
  '{sentence} from {ip}': '{sentence} a partir de {ip}',
  '{who} exported {n} recordings, this one among them,': {
    one: '{who} exportou {n} gravação (incluindo esta)',
    many: '{who} exportou {n} gravações (incluindo esta)',
    other: '{who} exportou {n} gravações (incluindo esta)',
  },
  '{who} exported {n} recordings': {
    one: '{who} exportou {n} gravação',
    many: '{who} exportou {n} gravações',
    other: '{who} exportou {n} gravações',
  },
  '{who} deleted the custom field {name} and its {n} recording values': {
    one: '{who} excluiu o campo personalizado {name} e seu valor em {n} gravação',
    many: '{who} excluiu o campo personalizado {name} e seus valores em {n} gravações',
    other: '{who} excluiu o campo personalizado {name} e seus valores em {n} gravações',
  },
  '{n} questions, {points} points': {
    one: '{n} pergunta, {points} pontos',
    many: '{n} perguntas, {points} pontos',
    other: '{n} perguntas, {points} pontos',
  },
  '{who} sent this recording to the journal mailbox':
    '{who} enviou esta gravação para a caixa de correio de registro em diário',
  '{who} sent recording {id} to the journal mailbox':
    '{who} enviou a gravação {id} para a caixa de correio de registro em diário',
  '{who} could not send this recording to the journal mailbox':
    '{who} não conseguiu enviar esta gravação para a caixa de correio de registro em diário',
  '{who} could not send recording {id} to the journal mailbox':
    '{who} não conseguiu enviar a gravação {id} para a caixa de correio de registro em diário',
  '{who} gave up sending this recording to the journal mailbox':
    '{who} desistiu de enviar esta gravação para a caixa de correio de registro em diário',
  '{who} gave up sending recording {id} to the journal mailbox':
    '{who} desistiu de enviar a gravação {id} para a caixa de correio de registro em diário',
  '{who} purged this recording once the journal mailbox had it':
    '{who} expurgou esta gravação depois que a caixa de correio de registro em diário a recebeu',
  '{who} purged recording {id} once the journal mailbox had it':
    '{who} expurgou a gravação {id} depois que a caixa de correio de registro em diário a recebeu',
  'to {to}, {size} bytes, Message-ID {messageId}': {
    one: 'para {to}, {size} byte, Message-ID {messageId}',
    many: 'para {to}, {size} bytes, Message-ID {messageId}',
    other: 'para {to}, {size} bytes, Message-ID {messageId}',
  },
  'attempt {attempt}: {error}; next attempt {at}': 'tentativa {attempt}: {error}; próxima tentativa {at}',
  'attempt {attempt}: {error}': 'tentativa {attempt}: {error}',
  '{n} files removed': {
    one: '{n} arquivo removido',
    many: '{n} arquivos removidos',
    other: '{n} arquivos removidos',
  },
};
