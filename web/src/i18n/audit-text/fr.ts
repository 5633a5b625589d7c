import type { Entry } from '../../i18n.js';

/** The audit sentences of web/src/audit-text.ts in French. */
export const fr: Record<string, Entry> = {
  'The server': 'Le serveur',
  'The server admin token': 'Le jeton d’administration du serveur',
  Someone: 'Quelqu’un',
  '{who} stopped listening live to this recording': '{who} a cessé d’écouter en direct cet enregistrement',
  '{who} stopped listening live to recording {id}': '{who} a cessé d’écouter en direct l’enregistrement {id}',
  '{who} stopped listening live to this recording after {seconds} s ({reason})':
    '{who} a cessé d’écouter en direct cet enregistrement après {seconds} s ({reason})',
  '{who} stopped listening live to recording {id} after {seconds} s ({reason})':
    '{who} a cessé d’écouter en direct l’enregistrement {id} après {seconds} s ({reason})',
  '{who} played this recording': '{who} a lu cet enregistrement',
  '{who} played recording {id}': '{who} a lu l’enregistrement {id}',
  '{who} viewed the waveform of this recording': '{who} a affiché la forme d’onde de cet enregistrement',
  '{who} viewed the waveform of recording {id}': '{who} a affiché la forme d’onde de l’enregistrement {id}',
  '{who} started listening live to this recording': '{who} a commencé à écouter en direct cet enregistrement',
  '{who} started listening live to recording {id}':
    '{who} a commencé à écouter en direct l’enregistrement {id}',
  '{who} exported the audio of this recording': '{who} a exporté l’audio de cet enregistrement',
  '{who} exported the audio of recording {id}': '{who} a exporté l’audio de l’enregistrement {id}',
  '{who} decrypted for delivery this recording': '{who} a déchiffré cet enregistrement pour la livraison',
  '{who} decrypted for delivery recording {id}': '{who} a déchiffré l’enregistrement {id} pour la livraison',
  '{who} downloaded this recording': '{who} a téléchargé cet enregistrement',
  '{who} downloaded recording {id}': '{who} a téléchargé l’enregistrement {id}',
  '{who} exported this recording': '{who} a exporté cet enregistrement',
  '{who} exported recording {id}': '{who} a exporté l’enregistrement {id}',
  '{who} deleted this recording': '{who} a supprimé cet enregistrement',
  '{who} deleted recording {id}': '{who} a supprimé l’enregistrement {id}',
  '{who} preserved this recording': '{who} a conservé cet enregistrement',
  '{who} preserved recording {id}': '{who} a conservé l’enregistrement {id}',
  '{who} lifted the preservation of this recording': '{who} a levé la conservation de cet enregistrement',
  '{who} lifted the preservation of recording {id}': '{who} a levé la conservation de l’enregistrement {id}',
  '{who} added a note to this recording': '{who} a ajouté une note à cet enregistrement',
  '{who} added a note to recording {id}': '{who} a ajouté une note à l’enregistrement {id}',
  '{who} deleted a note on this recording': '{who} a supprimé une note de cet enregistrement',
  '{who} deleted a note on recording {id}': '{who} a supprimé une note de l’enregistrement {id}',
  '{who} pinned a note on this recording': '{who} a épinglé une note sur cet enregistrement',
  '{who} pinned a note on recording {id}': '{who} a épinglé une note sur l’enregistrement {id}',
  '{who} unpinned a note on this recording': '{who} a désépinglé une note sur cet enregistrement',
  '{who} unpinned a note on recording {id}': '{who} a désépinglé une note sur l’enregistrement {id}',
  '{who} changed the categories of this recording': '{who} a modifié les catégories de cet enregistrement',
  '{who} changed the categories of recording {id}': '{who} a modifié les catégories de l’enregistrement {id}',
  '{who} stored this recording': '{who} a stocké cet enregistrement',
  '{who} stored recording {id}': '{who} a stocké l’enregistrement {id}',
  '{who} gave up this recording with node {node}, whose data directory was lost ({reason})':
    '{who} a abandonné cet enregistrement avec le nœud {node}, dont le répertoire de données est perdu ({reason})',
  '{who} gave up recording {id} with node {node}, whose data directory was lost ({reason})':
    '{who} a abandonné l’enregistrement {id} avec le nœud {node}, dont le répertoire de données est perdu ({reason})',
  '{who} asked node {name} to drain': '{who} a demandé au nœud {name} de se vider',
  '{who} forgot node {name}, gone for good': '{who} a oublié le nœud {name}, disparu pour de bon',
  '{who} sealed this recording in the tamper-evident recording chain':
    '{who} a scellé cet enregistrement dans la chaîne infalsifiable des enregistrements',
  '{who} sealed recording {id} in the tamper-evident recording chain':
    '{who} a scellé l’enregistrement {id} dans la chaîne infalsifiable des enregistrements',
  '{who} purged this recording (its retention period was over)':
    '{who} a purgé cet enregistrement (sa durée de conservation était écoulée)',
  '{who} purged recording {id} (its retention period was over)':
    '{who} a purgé l’enregistrement {id} (sa durée de conservation était écoulée)',
  '{who} paused the recording of this recording': '{who} a mis en pause cet enregistrement',
  '{who} paused the recording of recording {id}': '{who} a mis en pause l’enregistrement {id}',
  '{who} resumed the recording of this recording': '{who} a repris cet enregistrement',
  '{who} resumed the recording of recording {id}': '{who} a repris l’enregistrement {id}',
  '{who} started the recording of this recording': '{who} a démarré cet enregistrement',
  '{who} started the recording of recording {id}': '{who} a démarré l’enregistrement {id}',
  '{who} stopped the recording of this recording': '{who} a arrêté cet enregistrement',
  '{who} stopped the recording of recording {id}': '{who} a arrêté l’enregistrement {id}',
  '{who} was refused a pause of this recording':
    '{who} s’est vu refuser la mise en pause de cet enregistrement',
  '{who} was refused a pause of recording {id}':
    '{who} s’est vu refuser la mise en pause de l’enregistrement {id}',
  '{who} was refused a resume of this recording': '{who} s’est vu refuser la reprise de cet enregistrement',
  '{who} was refused a resume of recording {id}':
    '{who} s’est vu refuser la reprise de l’enregistrement {id}',
  '{who} was refused a start of this recording': '{who} s’est vu refuser le démarrage de cet enregistrement',
  '{who} was refused a start of recording {id}':
    '{who} s’est vu refuser le démarrage de l’enregistrement {id}',
  '{who} was refused a stop of this recording': '{who} s’est vu refuser l’arrêt de cet enregistrement',
  '{who} was refused a stop of recording {id}': '{who} s’est vu refuser l’arrêt de l’enregistrement {id}',
  '{who} changed the custom fields of this recording':
    '{who} a modifié les champs personnalisés de cet enregistrement',
  '{who} changed the custom fields of recording {id}':
    '{who} a modifié les champs personnalisés de l’enregistrement {id}',
  '{who} evaluated this recording': '{who} a évalué cet enregistrement',
  '{who} evaluated recording {id}': '{who} a évalué l’enregistrement {id}',
  '{who} deleted an evaluation of this recording': '{who} a supprimé une évaluation de cet enregistrement',
  '{who} deleted an evaluation of recording {id}': '{who} a supprimé une évaluation de l’enregistrement {id}',
  '{who} signed in': '{who} s’est connecté',
  '{who} signed out': '{who} s’est déconnecté',
  '{who} failed to sign in': '{who} n’a pas réussi à se connecter',
  '{who} was refused sign-in after repeated failures':
    '{who} s’est vu refuser la connexion après des échecs répétés',
  '{who} rotated the server admin token': '{who} a renouvelé le jeton d’administration du serveur',
  '{who} downloaded the users as CSV': '{who} a téléchargé les utilisateurs en CSV',
  '{who} imported users from a CSV file': '{who} a importé des utilisateurs depuis un fichier CSV',
  '{n} disabled': '{n} désactivés',
  '{who} synchronized the users with the directory {name}':
    '{who} a synchronisé les utilisateurs avec l’annuaire {name}',
  '{who} created user {name} from the directory': '{who} a créé l’utilisateur {name} depuis l’annuaire',
  '{who} changed user {name} from the directory': '{who} a modifié l’utilisateur {name} depuis l’annuaire',
  '{who} changed the email notifications of user {name} from the directory':
    '{who} a modifié les notifications par e-mail de l’utilisateur {name} depuis l’annuaire',
  '{who} created user {name} from a CSV file': '{who} a créé l’utilisateur {name} depuis un fichier CSV',
  '{who} changed user {name} from a CSV file': '{who} a modifié l’utilisateur {name} depuis un fichier CSV',
  '{who} changed the email notifications of user {name} from a CSV file':
    '{who} a modifié les notifications par e-mail de l’utilisateur {name} depuis un fichier CSV',
  '{n} skipped': '{n} ignorés',
  '{n} people in the directory': {
    one: '{n} personne dans l’annuaire',
    many: '{n} personnes dans l’annuaire',
    other: '{n} personnes dans l’annuaire',
  },
  '{created} created, {updated} changed, {unchanged} unchanged':
    '{created} créés, {updated} modifiés, {unchanged} inchangés',
  '{who} asked to retry the failed deliveries': '{who} a demandé de relancer les livraisons en échec',
  '{who} failed to change their password': '{who} n’a pas pu changer son mot de passe',
  '{who} changed their password': '{who} a changé son mot de passe',
  '{who} set the console language of user {name} to {language}':
    '{who} a réglé la langue de la console de l’utilisateur {name} sur {language}',
  '{who} cleared the console language of user {name}':
    '{who} a retiré la langue de la console de l’utilisateur {name}',
  '{who} set the default console language of group {name} to {language}':
    '{who} a réglé la langue par défaut de la console du groupe {name} sur {language}',
  '{who} cleared the default console language of group {name}':
    '{who} a retiré la langue par défaut de la console du groupe {name}',
  '{who} set the site’s default console language to {language}':
    '{who} a réglé la langue par défaut de la console du site sur {language}',
  '{who} cleared the site’s default console language':
    '{who} a retiré la langue par défaut de la console du site',
  '{who} created user {name}': '{who} a créé l’utilisateur {name}',
  'password set': 'mot de passe défini',
  'password removed': 'mot de passe supprimé',
  '{field}: {from} → {to}': '{field} : {from} → {to}',
  '{who} checked the integrity of this recording': '{who} a vérifié l’intégrité de cet enregistrement',
  '{who} checked the integrity of recording {id}': '{who} a vérifié l’intégrité de l’enregistrement {id}',
  '{who} changed the email notifications of user {name}':
    '{who} a modifié les notifications par e-mail de l’utilisateur {name}',
  '{who} tested access to the delivery destination {name}':
    '{who} a testé l’accès à la destination de livraison {name}',
  intact: 'intact',
  'NOT intact: {failed}': 'PAS intact : {failed}',
  'access works': 'l’accès fonctionne',
  'failed at {step}': 'échec à l’étape {step}',
  '{who} changed the recording filters': '{who} a modifié les filtres d’enregistrement',
  '{who} returned the recording filters to the configured ones':
    '{who} est revenu aux filtres d’enregistrement configurés',
  '{who} changed the retention policy': '{who} a modifié la politique de conservation',
  '{who} returned the retention policy to the configured one':
    '{who} est revenu à la politique de conservation configurée',
  'purges {n} recordings': {
    one: 'supprime {n} enregistrement',
    many: 'supprime {n} enregistrements',
    other: 'supprime {n} enregistrements',
  },
  '{who} changed user {name}': '{who} a modifié l’utilisateur {name}',
  '{who} deleted user {name}': '{who} a supprimé l’utilisateur {name}',
  '{who} changed the record mode of user {name}':
    '{who} a modifié le mode d’enregistrement de l’utilisateur {name}',
  '{who} created group {name}': '{who} a créé le groupe {name}',
  '{who} changed the record mode of group {name}':
    '{who} a modifié le mode d’enregistrement du groupe {name}',
  '{who} created API token {name}': '{who} a créé le jeton d’API {name}',
  '{who} revoked API token {name}': '{who} a révoqué le jeton d’API {name}',
  '{name} from {from} to {to}': '{name} de {from} à {to}',
  '{who} listed the encryption keys': '{who} a consulté la liste des clés de chiffrement',
  '{who} generated the encryption key {fp} ({type}, active)':
    '{who} a généré la clé de chiffrement {fp} ({type}, active)',
  '{who} generated the encryption key {fp} ({type})': '{who} a généré la clé de chiffrement {fp} ({type})',
  '{who} made the encryption key {fp} the active key':
    '{who} a fait de la clé de chiffrement {fp} la clé active',
  '{who} retired the encryption key {fp}, its recordings to be re-encrypted to the active key':
    '{who} a retiré la clé de chiffrement {fp}, ses enregistrements à rechiffrer pour la clé active',
  '{who} retired the encryption key {fp}': '{who} a retiré la clé de chiffrement {fp}',
  '{who} asked to re-encrypt the recordings of the encryption key {fp} to the active key':
    '{who} a demandé le rechiffrement des enregistrements de la clé de chiffrement {fp} pour la clé active',
  '{who} moved {n} files of the encryption key {fp} to the active key': {
    one: '{who} a passé {n} fichier de la clé de chiffrement {fp} à la clé active',
    many: '{who} a passé {n} fichiers de la clé de chiffrement {fp} à la clé active',
    other: '{who} a passé {n} fichiers de la clé de chiffrement {fp} à la clé active',
  },
  '{who} re-encrypted this recording’s {kind} to a new key':
    '{who} a rechiffré le {kind} de cet enregistrement pour une nouvelle clé',
  '{who} re-encrypted recording {id}’s {kind} to a new key':
    '{who} a rechiffré le {kind} de l’enregistrement {id} pour une nouvelle clé',
  '{n} files failed': {
    one: '{n} fichier en échec',
    many: '{n} fichiers en échec',
    other: '{n} fichiers en échec',
  },
  '{who} added the custom field {name}': '{who} a ajouté le champ personnalisé {name}',
  '{who} changed the custom field {name}': '{who} a modifié le champ personnalisé {name}',
  '{who} deleted the custom field {name}': '{who} a supprimé le champ personnalisé {name}',
  '{who} created the evaluation form {name}': '{who} a créé le formulaire d’évaluation {name}',
  '{who} deleted the evaluation form {name}': '{who} a supprimé le formulaire d’évaluation {name}',
  '{who} changed {changes}': '{who} a modifié les paramètres : {changes}',
  '{who} changed': '{who} a modifié les paramètres',
  'the encryption keys': 'les clés de chiffrement',
  'the custom field {name}': 'le champ personnalisé {name}',
  'the evaluation form {name}': 'le formulaire d’évaluation {name}',
  'this recording': 'cet enregistrement',
  'recording {id}': 'enregistrement {id}',
  'user {name}': 'utilisateur {name}',
  'group {name}': 'groupe {name}',
  'API token {name}': 'jeton d’API {name}',
  '(none)': '(aucun)',
  '{sentence}: {changes}': '{sentence} : {changes}',
  '{name} cleared (was {from})': '{name} effacé (auparavant {from})',
  '{name} set to {to}': '{name} défini sur {to}',
  '{sentence} (no change)': '{sentence} (aucun changement)',
  'agent {agent}, {form}: {score} %': 'agent {agent}, {form} : {score} %',
  'agent {agent}: {score} %': 'agent {agent} : {score} %',
  'agent {agent}, by {evaluator}: {score} %': 'agent {agent}, par {evaluator} : {score} %',
  'day {day}, entry {seq}': 'jour {day}, entrée {seq}',
  'range {range}': 'plage {range}',
  '{who} {action} {what}': '{who} : {action}, {what}',
  '{who} {action}': '{who} : {action}',
  '{sentence} with an API token': '{sentence} avec un jeton d’API',
  '{sentence} from {ip}': '{sentence} depuis {ip}',
  '{who} exported {n} recordings, this one among them,': {
    one: '{who} a exporté {n} enregistrement (dont celui-ci)',
    many: '{who} a exporté {n} enregistrements (dont celui-ci)',
    other: '{who} a exporté {n} enregistrements (dont celui-ci)',
  },
  '{who} exported {n} recordings': {
    one: '{who} a exporté {n} enregistrement',
    many: '{who} a exporté {n} enregistrements',
    other: '{who} a exporté {n} enregistrements',
  },
  '{who} deleted the custom field {name} and its {n} recording values': {
    one: '{who} a supprimé le champ personnalisé {name} et sa valeur dans {n} enregistrement',
    many: '{who} a supprimé le champ personnalisé {name} et ses valeurs dans {n} enregistrements',
    other: '{who} a supprimé le champ personnalisé {name} et ses valeurs dans {n} enregistrements',
  },
  '{n} questions, {points} points': {
    one: '{n} question, {points} points',
    many: '{n} questions, {points} points',
    other: '{n} questions, {points} points',
  },
  '{who} sent this recording to the journal mailbox':
    '{who} a envoyé cet enregistrement à la boîte de journalisation',
  '{who} sent recording {id} to the journal mailbox':
    '{who} a envoyé l’enregistrement {id} à la boîte de journalisation',
  '{who} could not send this recording to the journal mailbox':
    '{who} n’a pas pu envoyer cet enregistrement à la boîte de journalisation',
  '{who} could not send recording {id} to the journal mailbox':
    '{who} n’a pas pu envoyer l’enregistrement {id} à la boîte de journalisation',
  '{who} gave up sending this recording to the journal mailbox':
    '{who} a renoncé à envoyer cet enregistrement à la boîte de journalisation',
  '{who} gave up sending recording {id} to the journal mailbox':
    '{who} a renoncé à envoyer l’enregistrement {id} à la boîte de journalisation',
  '{who} purged this recording once the journal mailbox had it':
    '{who} a purgé cet enregistrement une fois reçu par la boîte de journalisation',
  '{who} purged recording {id} once the journal mailbox had it':
    '{who} a purgé l’enregistrement {id} une fois reçu par la boîte de journalisation',
  'to {to}, {size} bytes, Message-ID {messageId}': {
    one: 'à {to}, {size} octet, Message-ID {messageId}',
    many: 'à {to}, {size} octets, Message-ID {messageId}',
    other: 'à {to}, {size} octets, Message-ID {messageId}',
  },
  'attempt {attempt}: {error}; next attempt {at}': 'tentative {attempt} : {error} ; prochaine tentative {at}',
  'attempt {attempt}: {error}': 'tentative {attempt} : {error}',
  '{n} files removed': {
    one: '{n} fichier supprimé',
    many: '{n} fichiers supprimés',
    other: '{n} fichiers supprimés',
  },
};
