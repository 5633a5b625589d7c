import type { Catalogue } from '../i18n.js';

const FORMS_NOTE =
  'Questions worth 1-10 points each; supervisors and administrators answer them for a user who took part in a recording, and the score is the share of the points given. A form in use is kept.';
const NO_AGENTS = 'No user of this recording can be evaluated: none of its participants is a user’s number.';
const SUMMARY_NOTE =
  'The evaluations made between From and To of the recordings you may see, per evaluated user; scores as the share of the form’s points.';

/** Translations of the strings of web/src/views/evaluations.ts and web/src/views/evaluation-forms.ts. */
export const evaluations: Catalogue = {
  es: {
    question: 'pregunta',
    Points: 'Puntos',
    'Remove the question': 'Quitar la pregunta',
    'Loading…': 'Cargando…',
    'name (Call quality)': 'nombre (Calidad de la llamada)',
    '{n} points': { one: '{n} punto', many: '{n} de puntos', other: '{n} puntos' },
    'created {name}: {n} questions, {points}': {
      one: 'se creó {name}: {n} pregunta, {points}',
      many: 'se creó {name}: {n} de preguntas, {points}',
      other: 'se creó {name}: {n} preguntas, {points}',
    },
    'Delete the evaluation form {name}?': '¿Eliminar el formulario de evaluación {name}?',
    'deleted {name}': 'se eliminó {name}',
    'Form name': 'Nombre del formulario',
    Questions: 'Preguntas',
    'Max points': 'Puntos máx.',
    'In use': 'En uso',
    Delete: 'Eliminar',
    'No evaluation forms yet.': 'Aún no hay formularios de evaluación.',
    'Add question': 'Añadir pregunta',
    'Create form': 'Crear formulario',
    'Evaluation forms': 'Formularios de evaluación',
    [FORMS_NOTE]:
      'Preguntas de 1 a 10 puntos cada una; los supervisores y administradores las responden para un usuario que participó en una grabación, y la puntuación es la proporción de los puntos otorgados. Un formulario en uso se conserva.',
    '{form}: {agent} scored {score} ({answers}) — by {evaluator} {when}':
      '{form}: {agent} obtuvo {score} ({answers}) — por {evaluator} {when}',
    'Delete the evaluation of {agent} ({score} %) by {evaluator}?':
      '¿Eliminar la evaluación de {agent} ({score} %) hecha por {evaluator}?',
    'deleted the evaluation of {agent}': 'se eliminó la evaluación de {agent}',
    [NO_AGENTS]:
      'Ningún usuario de esta grabación puede ser evaluado: ninguno de sus participantes es el número de un usuario.',
    'No evaluation forms yet (Settings › Evaluation forms).':
      'Aún no hay formularios de evaluación (Configuración › Formularios de evaluación).',
    'No evaluation forms yet: an administrator defines them.':
      'Aún no hay formularios de evaluación: los define un administrador.',
    Comment: 'Comentario',
    '{question} {answer} of {points}': '{question} {answer} de {points}',
    'answer every question ({n} questions unanswered)': {
      one: 'responda todas las preguntas ({n} pregunta sin responder)',
      many: 'responda todas las preguntas ({n} de preguntas sin responder)',
      other: 'responda todas las preguntas ({n} preguntas sin responder)',
    },
    '{agent} scored {score} % on {form}': '{agent} obtuvo {score} % en {form}',
    Form: 'Formulario',
    Agent: 'Agente',
    Submit: 'Enviar',
    Evaluate: 'Evaluar',
    'No evaluations yet.': 'Aún no hay evaluaciones.',
    Evaluations: 'Evaluaciones',
    Average: 'Promedio',
    Lowest: 'Mínima',
    Highest: 'Máxima',
    'Download CSV': 'Descargar CSV',
    'No evaluations.': 'No hay evaluaciones.',
    Total: 'Total',
    'Agent evaluations': 'Evaluaciones de agentes',
    [SUMMARY_NOTE]:
      'Las evaluaciones realizadas entre Desde y Hasta de las grabaciones que usted puede ver, por usuario evaluado; puntuaciones como proporción de los puntos del formulario.',
  },
  fr: {
    question: 'question',
    Points: 'Points',
    'Remove the question': 'Supprimer la question',
    'Loading…': 'Chargement…',
    'name (Call quality)': 'nom (Qualité de l’appel)',
    '{n} points': { one: '{n} point', many: '{n} de points', other: '{n} points' },
    'created {name}: {n} questions, {points}': {
      one: 'formulaire {name} créé : {n} question, {points}',
      many: 'formulaire {name} créé : {n} de questions, {points}',
      other: 'formulaire {name} créé : {n} questions, {points}',
    },
    'Delete the evaluation form {name}?': 'Supprimer le formulaire d’évaluation {name} ?',
    'deleted {name}': '{name} supprimé',
    'Form name': 'Nom du formulaire',
    Questions: 'Questions',
    'Max points': 'Points max.',
    'In use': 'Utilisé',
    Delete: 'Supprimer',
    'No evaluation forms yet.': 'Aucun formulaire d’évaluation pour l’instant.',
    'Add question': 'Ajouter une question',
    'Create form': 'Créer le formulaire',
    'Evaluation forms': 'Formulaires d’évaluation',
    [FORMS_NOTE]:
      'Questions valant de 1 à 10 points chacune ; les superviseurs et les administrateurs y répondent pour un utilisateur ayant participé à un enregistrement, et le score est la part des points attribués. Un formulaire utilisé est conservé.',
    '{form}: {agent} scored {score} ({answers}) — by {evaluator} {when}':
      '{form} : {agent} a obtenu {score} ({answers}) — par {evaluator} {when}',
    'Delete the evaluation of {agent} ({score} %) by {evaluator}?':
      'Supprimer l’évaluation de {agent} ({score} %) faite par {evaluator} ?',
    'deleted the evaluation of {agent}': 'évaluation de {agent} supprimée',
    [NO_AGENTS]:
      'Aucun utilisateur de cet enregistrement ne peut être évalué : aucun de ses participants n’est le numéro d’un utilisateur.',
    'No evaluation forms yet (Settings › Evaluation forms).':
      'Aucun formulaire d’évaluation pour l’instant (Paramètres › Formulaires d’évaluation).',
    'No evaluation forms yet: an administrator defines them.':
      'Aucun formulaire d’évaluation pour l’instant : un administrateur les définit.',
    Comment: 'Commentaire',
    '{question} {answer} of {points}': '{question} {answer} sur {points}',
    'answer every question ({n} questions unanswered)': {
      one: 'répondez à toutes les questions ({n} question sans réponse)',
      many: 'répondez à toutes les questions ({n} de questions sans réponse)',
      other: 'répondez à toutes les questions ({n} questions sans réponse)',
    },
    '{agent} scored {score} % on {form}': '{agent} a obtenu {score} % sur {form}',
    Form: 'Formulaire',
    Agent: 'Agent',
    Submit: 'Envoyer',
    Evaluate: 'Évaluer',
    'No evaluations yet.': 'Aucune évaluation pour l’instant.',
    Evaluations: 'Évaluations',
    Average: 'Moyenne',
    Lowest: 'Minimum',
    Highest: 'Maximum',
    'Download CSV': 'Télécharger le CSV',
    'No evaluations.': 'Aucune évaluation.',
    Total: 'Total',
    'Agent evaluations': 'Évaluations des agents',
    [SUMMARY_NOTE]:
      'Les évaluations faites entre « Du » et « Au » sur les enregistrements que vous pouvez voir, par utilisateur évalué ; scores en part des points du formulaire.',
  },
  'pt-BR': {
    question: 'pergunta',
    Points: 'Pontos',
    'Remove the question': 'Remover a pergunta',
    'Loading…': 'Carregando…',
    'name (Call quality)': 'nome (Qualidade da chamada)',
    '{n} points': { one: '{n} ponto', many: '{n} de pontos', other: '{n} pontos' },
    'created {name}: {n} questions, {points}': {
      one: 'formulário {name} criado: {n} pergunta, {points}',
      many: 'formulário {name} criado: {n} de perguntas, {points}',
      other: 'formulário {name} criado: {n} perguntas, {points}',
    },
    'Delete the evaluation form {name}?': 'Excluir o formulário de avaliação {name}?',
    'deleted {name}': '{name} excluído',
    'Form name': 'Nome do formulário',
    Questions: 'Perguntas',
    'Max points': 'Pontos máx.',
    'In use': 'Em uso',
    Delete: 'Excluir',
    'No evaluation forms yet.': 'Ainda não há formulários de avaliação.',
    'Add question': 'Adicionar pergunta',
    'Create form': 'Criar formulário',
    'Evaluation forms': 'Formulários de avaliação',
    [FORMS_NOTE]:
      'Perguntas de 1 a 10 pontos cada; supervisores e administradores as respondem para um usuário que participou de uma gravação, e a pontuação é a proporção dos pontos atribuídos. Um formulário em uso é mantido.',
    '{form}: {agent} scored {score} ({answers}) — by {evaluator} {when}':
      '{form}: {agent} obteve {score} ({answers}) — por {evaluator} {when}',
    'Delete the evaluation of {agent} ({score} %) by {evaluator}?':
      'Excluir a avaliação de {agent} ({score} %) feita por {evaluator}?',
    'deleted the evaluation of {agent}': 'avaliação de {agent} excluída',
    [NO_AGENTS]:
      'Nenhum usuário desta gravação pode ser avaliado: nenhum dos participantes é o número de um usuário.',
    'No evaluation forms yet (Settings › Evaluation forms).':
      'Ainda não há formulários de avaliação (Configurações › Formulários de avaliação).',
    'No evaluation forms yet: an administrator defines them.':
      'Ainda não há formulários de avaliação: um administrador os define.',
    Comment: 'Comentário',
    '{question} {answer} of {points}': '{question} {answer} de {points}',
    'answer every question ({n} questions unanswered)': {
      one: 'responda a todas as perguntas ({n} pergunta sem resposta)',
      many: 'responda a todas as perguntas ({n} de perguntas sem resposta)',
      other: 'responda a todas as perguntas ({n} perguntas sem resposta)',
    },
    '{agent} scored {score} % on {form}': '{agent} obteve {score} % em {form}',
    Form: 'Formulário',
    Agent: 'Agente',
    Submit: 'Enviar',
    Evaluate: 'Avaliar',
    'No evaluations yet.': 'Nenhuma avaliação ainda.',
    Evaluations: 'Avaliações',
    Average: 'Média',
    Lowest: 'Mínima',
    Highest: 'Máxima',
    'Download CSV': 'Baixar CSV',
    'No evaluations.': 'Nenhuma avaliação.',
    Total: 'Total',
    'Agent evaluations': 'Avaliações de agentes',
    [SUMMARY_NOTE]:
      'As avaliações feitas entre De e Até nas gravações que você pode ver, por usuário avaliado; pontuações como proporção dos pontos do formulário.',
  },
  ru: {
    question: 'вопрос',
    Points: 'Баллы',
    'Remove the question': 'Удалить вопрос',
    'Loading…': 'Загрузка…',
    'name (Call quality)': 'название (Качество звонка)',
    '{n} points': { one: '{n} балл', few: '{n} балла', many: '{n} баллов', other: '{n} балла' },
    'created {name}: {n} questions, {points}': {
      one: 'создана форма {name}: {n} вопрос, {points}',
      few: 'создана форма {name}: {n} вопроса, {points}',
      many: 'создана форма {name}: {n} вопросов, {points}',
      other: 'создана форма {name}: {n} вопроса, {points}',
    },
    'Delete the evaluation form {name}?': 'Удалить форму оценки {name}?',
    'deleted {name}': 'удалено: {name}',
    'Form name': 'Название формы',
    Questions: 'Вопросы',
    'Max points': 'Макс. баллов',
    'In use': 'Используется',
    Delete: 'Удалить',
    'No evaluation forms yet.': 'Форм оценки пока нет.',
    'Add question': 'Добавить вопрос',
    'Create form': 'Создать форму',
    'Evaluation forms': 'Формы оценки',
    [FORMS_NOTE]:
      'Вопросы стоимостью от 1 до 10 баллов; супервизоры и администраторы отвечают на них для пользователя, участвовавшего в записи, а оценка — это доля набранных баллов. Используемая форма сохраняется.',
    '{form}: {agent} scored {score} ({answers}) — by {evaluator} {when}':
      '{form}: {agent} — {score} ({answers}); оценщик: {evaluator}, {when}',
    'Delete the evaluation of {agent} ({score} %) by {evaluator}?':
      'Удалить оценку пользователя {agent} ({score} %), выставленную {evaluator}?',
    'deleted the evaluation of {agent}': 'оценка пользователя {agent} удалена',
    [NO_AGENTS]:
      'Ни одного пользователя этой записи нельзя оценить: ни один из её участников не является номером пользователя.',
    'No evaluation forms yet (Settings › Evaluation forms).':
      'Форм оценки пока нет (Настройки › Формы оценки).',
    'No evaluation forms yet: an administrator defines them.':
      'Форм оценки пока нет: их задаёт администратор.',
    Comment: 'Комментарий',
    '{question} {answer} of {points}': '{question} {answer} из {points}',
    'answer every question ({n} questions unanswered)': {
      one: 'ответьте на все вопросы (без ответа: {n} вопрос)',
      few: 'ответьте на все вопросы (без ответа: {n} вопроса)',
      many: 'ответьте на все вопросы (без ответа: {n} вопросов)',
      other: 'ответьте на все вопросы (без ответа: {n} вопроса)',
    },
    '{agent} scored {score} % on {form}': '{agent}: оценка {score} % по форме {form}',
    Form: 'Форма',
    Agent: 'Агент',
    Submit: 'Отправить',
    Evaluate: 'Оценить',
    'No evaluations yet.': 'Оценок пока нет.',
    Evaluations: 'Оценки',
    Average: 'Среднее',
    Lowest: 'Минимум',
    Highest: 'Максимум',
    'Download CSV': 'Скачать CSV',
    'No evaluations.': 'Оценок нет.',
    Total: 'Всего',
    'Agent evaluations': 'Оценки агентов',
    [SUMMARY_NOTE]:
      'Оценки, выставленные в период между «С» и «По» для доступных вам записей, по каждому оцениваемому пользователю; оценка — доля баллов формы.',
  },
};
