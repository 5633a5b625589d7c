import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/login.ts. */
export const login: Catalogue = {
  es: {
    username: 'nombre de usuario',
    password: 'contraseña',
    'Sign in': 'Iniciar sesión',
  },
  fr: {
    username: 'nom d’utilisateur',
    password: 'mot de passe',
    'Sign in': 'Se connecter',
  },
  'pt-BR': {
    username: 'nome de usuário',
    password: 'senha',
    'Sign in': 'Entrar',
  },
  ru: {
    username: 'имя пользователя',
    password: 'пароль',
    'Sign in': 'Войти',
  },
};
