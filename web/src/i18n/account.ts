import type { Catalogue } from '../i18n.js';

/** Translations of the strings of web/src/views/account.ts. */
export const account: Catalogue = {
  es: {
    Account: 'Cuenta',
    Username: 'Nombre de usuario',
    Role: 'Rol',
    'Change password': 'Cambiar la contraseña',
    'Saving it ends all your sessions, this one included: you then sign in again with the new password.':
      'Al guardarla se cierran todas sus sesiones, incluida esta: después inicie sesión de nuevo con la nueva contraseña.',
    'Current password': 'Contraseña actual',
    'New password (at least 8 characters)': 'Nueva contraseña (al menos 8 caracteres)',
    'Repeat the new password': 'Repita la nueva contraseña',
    Save: 'Guardar',
    'The two new passwords do not match.': 'Las dos contraseñas nuevas no coinciden.',
    'Password changed. All your sessions have ended, this one included: sign in again with the new password.':
      'Contraseña cambiada. Todas sus sesiones se han cerrado, incluida esta: inicie sesión de nuevo con la nueva contraseña.',
    'Sign in again': 'Iniciar sesión de nuevo',
    'Email notifications': 'Notificaciones por correo electrónico',
    'An email to this address each time a recording of yours is stored, with the recording attached if you wish.':
      'Un correo a esta dirección cada vez que se almacena una grabación suya, con la grabación adjunta si lo desea.',
    'Email notifications saved.': 'Notificaciones por correo electrónico guardadas.',
  },
  fr: {
    Account: 'Compte',
    Username: 'Nom d’utilisateur',
    Role: 'Rôle',
    'Change password': 'Changer le mot de passe',
    'Saving it ends all your sessions, this one included: you then sign in again with the new password.':
      'L’enregistrer ferme toutes vos sessions, celle-ci comprise : reconnectez-vous ensuite avec le nouveau mot de passe.',
    'Current password': 'Mot de passe actuel',
    'New password (at least 8 characters)': 'Nouveau mot de passe (8 caractères au moins)',
    'Repeat the new password': 'Répétez le nouveau mot de passe',
    Save: 'Enregistrer',
    'The two new passwords do not match.': 'Les deux nouveaux mots de passe ne correspondent pas.',
    'Password changed. All your sessions have ended, this one included: sign in again with the new password.':
      'Mot de passe changé. Toutes vos sessions sont fermées, celle-ci comprise : reconnectez-vous avec le nouveau mot de passe.',
    'Sign in again': 'Se reconnecter',
    'Email notifications': 'Notifications par e-mail',
    'An email to this address each time a recording of yours is stored, with the recording attached if you wish.':
      'Un e-mail à cette adresse chaque fois qu’un de vos enregistrements est stocké, avec l’enregistrement joint si vous le souhaitez.',
    'Email notifications saved.': 'Notifications par e-mail enregistrées.',
  },
  'pt-BR': {
    Account: 'Conta',
    Username: 'Nome de usuário',
    Role: 'Função',
    'Change password': 'Alterar a senha',
    'Saving it ends all your sessions, this one included: you then sign in again with the new password.':
      'Salvar encerra todas as suas sessões, inclusive esta: depois entre novamente com a nova senha.',
    'Current password': 'Senha atual',
    'New password (at least 8 characters)': 'Nova senha (pelo menos 8 caracteres)',
    'Repeat the new password': 'Repita a nova senha',
    Save: 'Salvar',
    'The two new passwords do not match.': 'As duas senhas novas não coincidem.',
    'Password changed. All your sessions have ended, this one included: sign in again with the new password.':
      'Senha alterada. Todas as suas sessões foram encerradas, inclusive esta: entre novamente com a nova senha.',
    'Sign in again': 'Entrar novamente',
    'Email notifications': 'Notificações por e-mail',
    'An email to this address each time a recording of yours is stored, with the recording attached if you wish.':
      'Um e-mail para este endereço sempre que uma gravação sua for armazenada, com a gravação anexada se desejar.',
    'Email notifications saved.': 'Notificações por e-mail salvas.',
  },
  ru: {
    Account: 'Учётная запись',
    Username: 'Имя пользователя',
    Role: 'Роль',
    'Change password': 'Смена пароля',
    'Saving it ends all your sessions, this one included: you then sign in again with the new password.':
      'После сохранения все ваши сеансы, включая этот, завершатся: затем войдите снова с новым паролем.',
    'Current password': 'Текущий пароль',
    'New password (at least 8 characters)': 'Новый пароль (не менее 8 символов)',
    'Repeat the new password': 'Повторите новый пароль',
    Save: 'Сохранить',
    'The two new passwords do not match.': 'Два новых пароля не совпадают.',
    'Password changed. All your sessions have ended, this one included: sign in again with the new password.':
      'Пароль изменён. Все ваши сеансы, включая этот, завершены: войдите снова с новым паролем.',
    'Sign in again': 'Войти снова',
    'Email notifications': 'Уведомления по электронной почте',
    'An email to this address each time a recording of yours is stored, with the recording attached if you wish.':
      'Письмо на этот адрес каждый раз, когда сохраняется ваша запись, с приложенной записью, если хотите.',
    'Email notifications saved.': 'Настройки уведомлений по электронной почте сохранены.',
  },
};
