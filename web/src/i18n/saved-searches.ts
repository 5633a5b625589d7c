import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/saved-searches.ts. */
export const savedSearches: Catalogue = {
  es: {
    Delete: 'Eliminar',
    'Saved searches': 'Búsquedas guardadas',
    'Save search': 'Guardar búsqueda',
    '— choose —': '— elegir —',
    '(none yet)': '(ninguna todavía)',
    'Save this search as:': 'Guardar esta búsqueda como:',
    'saved "{name}"': 'búsqueda «{name}» guardada',
    'Delete the saved search "{name}"?': '¿Eliminar la búsqueda guardada «{name}»?',
    'deleted "{name}"': 'búsqueda «{name}» eliminada',
  },
  fr: {
    Delete: 'Supprimer',
    'Saved searches': 'Recherches enregistrées',
    'Save search': 'Enregistrer la recherche',
    '— choose —': '— choisir —',
    '(none yet)': "(aucune pour l'instant)",
    'Save this search as:': 'Enregistrer cette recherche sous :',
    'saved "{name}"': 'recherche « {name} » enregistrée',
    'Delete the saved search "{name}"?': 'Supprimer la recherche enregistrée « {name} » ?',
    'deleted "{name}"': 'recherche « {name} » supprimée',
  },
  'pt-BR': {
    Delete: 'Excluir',
    'Saved searches': 'Pesquisas salvas',
    'Save search': 'Salvar pesquisa',
    '— choose —': '— escolher —',
    '(none yet)': '(nenhuma ainda)',
    'Save this search as:': 'Salvar esta pesquisa como:',
    'saved "{name}"': 'pesquisa "{name}" salva',
    'Delete the saved search "{name}"?': 'Excluir a pesquisa salva "{name}"?',
    'deleted "{name}"': 'pesquisa "{name}" excluída',
  },
  ru: {
    Delete: 'Удалить',
    'Saved searches': 'Сохранённые поиски',
    'Save search': 'Сохранить поиск',
    '— choose —': '— выберите —',
    '(none yet)': '(пока нет)',
    'Save this search as:': 'Сохранить этот поиск как:',
    'saved "{name}"': 'поиск «{name}» сохранён',
    'Delete the saved search "{name}"?': 'Удалить сохранённый поиск «{name}»?',
    'deleted "{name}"': 'поиск «{name}» удалён',
  },
};
