// The words of the admin and account pages, in English and Italian. The language is the first of
// `navigator.languages` that is English or Italian (English otherwise); `<html lang>` follows it.
// Static HTML marks its texts with data-i18n="key" (text), data-i18n-label (aria-label),
// data-i18n-placeholder and data-i18n-title; `applyI18n` fills them in.

const EN = {
  'page.admin.title': 'External applications',
  'page.admin.subtitle':
    'Manage external applications that integrate with the CRM through the OAuth 2.0 authorization protocol',
  'page.account.title': 'Connected applications',
  'page.account.subtitle':
    'Applications bound to your account and applications you allowed to use your CRM data',
  'page.skip': 'Skip to content',
  'page.loading': 'Loading…',
  'page.noscript': 'This page needs JavaScript.',

  'session.nav': 'Session',
  'session.signed_in_as': 'Signed in as',
  'session.logout': 'Sign out',
  'session.to_account': 'Connected applications',
  'session.to_admin': 'External applications',
  'login.title': 'Sign in',
  'login.intro.admin': 'Sign in with a CRM administrator account to manage external applications.',
  'login.intro.account': 'Sign in with your CRM account to see your connected applications.',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.bad': 'Wrong username or password.',
  'login.throttled': 'Too many failed attempts. Wait a few minutes and try again.',
  'login.throttled_for': 'Too many failed attempts. Try again in {minutes} min.',
  'login.expired': 'Your session has ended. Sign in again.',
  'login.not_admin':
    'This page is for CRM administrators. Your account ({user}) is not an administrator.',

  'err.title': 'The request failed',
  'err.network': 'The gateway cannot be reached. Check the connection and try again.',
  'err.status': 'The gateway answered {status}.',
  'err.unauthorized': 'You are not signed in.',
  'err.forbidden': 'You are not allowed to do this.',
  'err.not_found': 'Not found: it may have been deleted in the meantime.',
  'err.invalid': 'The change was refused.',
  'err.too_many_requests': 'Too many requests. Wait a moment and try again.',
  'err.unavailable': 'The gateway cannot do this right now. Try again later.',
  'err.conflict':
    'This page is out of date: the applications were changed elsewhere since it was loaded. Nothing was saved. Reload the page and make the change again.',
  'err.reload': 'Reload',
  'err.dismiss': 'Dismiss',
  'err.problems': 'Problems:',

  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.save': 'Save',
  'common.done': 'Done',
  'common.copy': 'Copy',
  'common.copy_named': 'Copy {what}',
  'common.copied': 'Copied to the clipboard.',
  'common.copy_failed': 'Could not copy: select the text and copy it by hand.',
  'common.show': 'Show',
  'common.hide': 'Hide',
  'common.yes': 'Yes',
  'common.no': 'No',
  'common.none': 'None',
  'common.saved': 'Saved.',
  'common.details': 'Details',

  'settings.title': 'Global settings',
  'settings.oauth_enabled': 'Enable OAuth2 access',
  'settings.oauth_enabled.help':
    'When off, no external application can get a token and every issued token is refused.',
  'settings.users_can_manage_secrets':
    'Allow users to view and change the secret key of apps associated to them',
  'settings.users_can_manage_secrets.help':
    'Users who are not administrators see and renew the secret of their service accounts on the Connected applications page.',
  'settings.allow_admin_users': 'Allow connections with admin users',
  'settings.allow_admin_users.help':
    'When off, no token is issued for, or accepted as, an administrator account.',
  'settings.on': 'On',
  'settings.off': 'Off',
  'settings.changed': '{setting}: {state}.',

  'apps.title': 'Registered applications',
  'apps.add': 'Add',
  'apps.empty': 'No applications are registered yet. Use “Add” to register one.',
  'apps.col.icon': 'Icon',
  'apps.col.name': 'Name',
  'apps.col.client_type': 'Client type',
  'apps.col.client_id': 'Client ID',
  'apps.col.users': 'Authorized users',
  'apps.col.tokens': 'Token status',
  'apps.col.enabled': 'Enabled',
  'apps.col.tools': 'Tools',
  'apps.caption': 'Registered applications',
  'apps.type.service_account': 'Service account',
  'apps.type.web': 'Web or mobile app',
  'apps.type.web_app': 'Web application',
  'apps.type.native_app': 'Native or Single Page App',
  'apps.users.all': 'All users',
  'apps.users.selected': 'Only selected',
  'apps.users.groups': 'groups: {list}',
  'apps.users.nobody': 'nobody selected',
  'apps.tokens.none': 'No active tokens',
  'apps.tokens.unknown': 'Not counted yet',
  'apps.tokens.active.one': '1 active token',
  'apps.tokens.active.many': '{n} active tokens',
  'apps.tokens.expired.one': '1 expired token',
  'apps.tokens.expired.many': '{n} expired tokens',
  'apps.enabled_label': 'Enabled: {name}',
  'apps.edit': 'Edit',
  'apps.edit_named': 'Edit {name}',
  'apps.revoke': 'Revoke tokens',
  'apps.revoke_named': 'Revoke tokens of {name}',
  'apps.delete': 'Delete',
  'apps.delete_named': 'Delete {name}',
  'apps.enabled_now': '{name} is enabled.',
  'apps.disabled_now': '{name} is disabled: its tokens stop working at once.',
  'apps.revoke.title': 'Revoke all tokens?',
  'apps.revoke.text':
    'Every token of “{name}” stops working at once. The application has to get new tokens (users authorize it again).',
  'apps.revoke.confirm': 'Revoke all tokens',
  'apps.revoked.one': '1 token revoked.',
  'apps.revoked.many': '{n} tokens revoked.',
  'apps.delete.title': 'Delete the application?',
  'apps.delete.text':
    '“{name}” ({id}) is removed with its icon and all its tokens and authorizations. This cannot be undone.',
  'apps.delete.confirm': 'Delete “{name}”',
  'apps.deleted': '{name} was deleted.',

  'form.create': 'Create application',
  'form.edit': 'Edit application',
  'form.access': 'Access data',
  'form.client_type': 'Client type',
  'form.select': '-- Please select --',
  'form.client_type.service_account': 'Service account',
  'form.client_type.web': 'Web or mobile application',
  'form.client_type.help':
    'If the external application needs interactive access by a user, choose Web or mobile application; if the access happens in the background, use Service account.',
  'form.secret_type': 'Secret type',
  'form.secret_type.client_secret': 'Client secret',
  'form.secret_type.signed_jwt': 'Signed JWT',
  'form.secret_type.help':
    'With Client secret the OAuth 2.0 Client Credentials flow is used with client ID and secret; with Signed JWT the application signs a JWT with a private key generated when you save.',
  'form.key_algorithm': 'Key algorithm',
  'form.key_algorithm.ES256': 'ES256 (ECDSA P-256, recommended)',
  'form.key_algorithm.RS256': 'RS256 (RSA 2048)',
  'form.key_algorithm.help': 'The key pair is generated when you save; the private key is shown only once.',
  'form.app_type': 'Application type',
  'form.app_type.web_app': 'Web application',
  'form.app_type.native_app': 'Native or Single Page App',
  'form.app_type.help':
    'If the application is a Single Page App or a mobile app, without a server side, the authorization code flow with PKCE is used; otherwise the normal authorization code flow.',
  'form.name': 'Name',
  'form.name.help': 'Name of the application that accesses the CRM, for example: “Gestionale”',
  'form.client_id': 'Client ID',
  'form.client_id.help': 'ID to use in the application to access the CRM',
  'form.client_id.generated': 'Generated when you save',
  'form.secret': 'Client secret',
  'form.secret.help': 'Generated when you save and shown only once.',
  'form.public_key': 'Public key',
  'form.scope': 'Scope',
  'form.scope.help': 'Scope to use in the application to access the CRM',
  'form.scope.rest.all': 'rest.all (full access through the REST web services)',
  'form.scope.rest.all.read': 'rest.all.read (read only through the REST web services)',
  'form.scope.rest.all.write': 'rest.all.write (write only through the REST web services)',
  'form.user': 'User',
  'form.user.help':
    'User bound to these credentials: the application sees and changes what this user may.',
  'form.offline': 'Offline access',
  'form.offline.help':
    'If on, the application can access the CRM on its own after the first authorization (refresh tokens).',
  'form.redirect_uris': 'Redirect URIs',
  'form.redirect_uris.help':
    'Addresses allowed to send the user back to the application, one per line',
  'form.authorized': 'Authorized users',
  'form.authorized.help': 'Users who can use this application',
  'form.authorized.all': 'All users',
  'form.authorized.selected': 'Only selected users and groups',
  'form.groups': 'Groups',
  'form.users': 'Users',
  'form.no_groups': 'The users file names no groups.',
  'form.consent': 'Consent screen',
  'form.consent.help': 'What users see when the application asks for their authorization.',
  'form.description': 'Description',
  'form.icon': 'Icon',
  'form.icon.help': 'Icon shown on the consent screen. If larger than 64x64, it is resized.',
  'form.icon.remove': 'Remove icon',
  'form.icon.choose': 'Choose an image…',
  'form.icon.none': 'No file chosen',
  'form.icon.current': 'Current icon',
  'form.icon.preview': 'Icon preview',
  'form.icon.removed': 'The icon will be removed when you save.',
  'form.config': 'Configuration information',
  'form.endpoints': 'Endpoints',
  'form.endpoint.auth': 'Auth endpoint',
  'form.endpoint.token': 'Token endpoint',
  'form.endpoint.revoke': 'Revoke endpoint',
  'form.flow': 'OAuth 2.0 flow',
  'form.flow.unknown': 'Choose the client type first.',
  'flow.client_credentials': 'Client Credentials',
  'flow.jwt': 'Client Credentials with a signed JWT (RFC 7523)',
  'flow.code': 'Authorization Code',
  'flow.pkce': 'Authorization Code with PKCE',
  'form.regenerate.secret': 'Regenerate secret',
  'form.regenerate.key': 'Regenerate key pair',
  'form.regenerate.title': 'Make a new secret?',
  'form.regenerate.text':
    'A new secret is made for “{name}” and shown once. The current one stops working at once.',
  'form.regenerate.key_text':
    'A new key pair is made for “{name}”; the private key is shown once. The current key stops working at once.',
  'form.no_changes': 'Nothing changed.',
  'form.invalid': 'Check the highlighted fields.',
  'form.required': 'Required.',
  'form.required_choice': 'Choose one.',
  'form.bad_uri': 'Not an absolute URL: {uri}',
  'form.uri_fragment': 'A redirect URI must not contain a fragment (#…): {uri}',
  'form.uri_http': 'Plain http is allowed only for 127.0.0.1, [::1] and localhost; use https: {uri}',
  'form.need_uri': 'Enter at least one redirect URI.',
  'form.need_selection': 'Select at least one user or group, or choose “All users”.',
  'form.icon.bad_type': 'Choose a PNG, JPEG or GIF image.',
  'form.icon.too_big': 'The image is larger than 1 MiB.',

  'result.created': 'Application created',
  'result.regenerated': 'New credentials',
  'result.once':
    'Copy these credentials now: they are shown only once and cannot be seen again after you leave this page.',
  'result.client_id': 'Client ID',
  'result.secret': 'Client secret',
  'result.private_key': 'Private key',
  'result.download_pem': 'Download private key (PEM)',
  'result.download_jwk': 'Download private key (JWK)',
  'result.pem': 'Private key (PEM, PKCS#8)',
  'result.jwk': 'Private key (JWK)',
  'result.example': 'Token request example',
  'result.example.help':
    'A client assertion signed with the new key, valid for 5 minutes, and the request that trades it for a token.',
  'result.claims': 'Claims',
  'result.assertion': 'Assertion',
  'result.curl': 'curl',
  'result.no_secret': 'This application uses PKCE and has no secret.',

  'account.bound': 'Bound to you',
  'account.bound.help':
    'Service accounts whose tokens act as you: they see and change what you may in the CRM.',
  'account.bound.empty': 'No service account is bound to you.',
  'account.authorized': 'Authorized by you',
  'account.authorized.help': 'Applications you allowed to use your CRM data and that still hold access.',
  'account.authorized.empty': 'You have not authorized any application.',
  'account.scope': 'Scope',
  'account.client_id': 'Client ID',
  'account.secret': 'Client secret',
  'account.secret.hidden': 'Hidden',
  'account.secret.signed_jwt': 'Signed JWT: the application holds a private key.',
  'account.secret.not_shown': 'Ask an administrator for the secret.',
  'account.secret.unavailable': 'The current secret cannot be shown: make a new one to see it.',
  'account.regenerate': 'Regenerate secret',
  'account.regenerate.title': 'Make a new secret?',
  'account.regenerate.text':
    'A new secret is made for “{name}”. The current one stops working at once: update the application with the new one.',
  'account.regenerated': '{name}: new secret made.',
  'account.authorized_at': 'Authorized',
  'account.grants': 'Authorizations',
  'account.revoke': 'Revoke access',
  'account.revoke_named': 'Revoke access of {name}',
  'account.revoke.title': 'Revoke access?',
  'account.revoke.text':
    '“{name}” loses its access to your CRM data at once. To use it again you have to authorize it again.',
  'account.revoke_bound.text':
    'Every token of “{name}” stops working at once; the application gets new ones with its credentials.',
  'account.revoked': '{name}: access revoked.',
  'account.revoke_tokens': 'Revoke tokens',
  'account.disable': 'Disable',
  'account.enable': 'Enable',
  'account.disable.title': 'Disable the application?',
  'account.disable.text':
    '“{name}” is disabled for every user and its tokens stop working at once. An administrator can enable it again on the External applications page.',
  'account.disabled_now': '{name} is disabled.',
  'account.enabled_now': '{name} is enabled.',
  'account.state.disabled': 'Disabled',
  'account.description': 'Description',
  'account.client_type': 'Client type',
  'account.offline': 'Offline access',
  'account.redirect_uris': 'Redirect URIs',
  'account.user': 'Bound user',
  'account.enabled': 'Enabled',

  'scope.words.rest.all': 'read and change your CRM data',
  'scope.words.rest.all.read': 'read your CRM data',
  'scope.words.rest.all.write': 'change your CRM data',
  'scope.words.bound.rest.all': 'read and change CRM data',
  'scope.words.bound.rest.all.read': 'read CRM data',
  'scope.words.bound.rest.all.write': 'change CRM data',
};

const IT = {
  'page.admin.title': 'Applicazioni esterne',
  'page.admin.subtitle':
    'Gestione di applicazioni esterne che comunicano con il CRM tramite protocollo di autorizzazione OAuth 2.0',
  'page.account.title': 'Applicazioni collegate',
  'page.account.subtitle':
    'Le applicazioni associate al tuo account e quelle che hai autorizzato ad accedere ai tuoi dati del CRM',
  'page.skip': 'Vai al contenuto',
  'page.loading': 'Caricamento…',
  'page.noscript': 'Questa pagina richiede JavaScript.',

  'session.nav': 'Sessione',
  'session.signed_in_as': 'Accesso effettuato come',
  'session.logout': 'Esci',
  'session.to_account': 'Applicazioni collegate',
  'session.to_admin': 'Applicazioni esterne',
  'login.title': 'Accedi',
  'login.intro.admin': 'Accedi con un account amministratore del CRM per gestire le applicazioni esterne.',
  'login.intro.account': 'Accedi con il tuo account del CRM per vedere le applicazioni collegate.',
  'login.username': 'Nome utente',
  'login.password': 'Password',
  'login.submit': 'Accedi',
  'login.bad': 'Nome utente o password errati.',
  'login.throttled': 'Troppi tentativi falliti. Attendi qualche minuto e riprova.',
  'login.throttled_for': 'Troppi tentativi falliti. Riprova tra {minutes} min.',
  'login.expired': 'La sessione è terminata. Accedi di nuovo.',
  'login.not_admin':
    'Questa pagina è riservata agli amministratori del CRM. Il tuo account ({user}) non è amministratore.',

  'err.title': 'La richiesta non è riuscita',
  'err.network': 'Il gateway non è raggiungibile. Controlla la connessione e riprova.',
  'err.status': 'Il gateway ha risposto {status}.',
  'err.unauthorized': 'Non hai effettuato l’accesso.',
  'err.forbidden': 'Non hai il permesso per questa operazione.',
  'err.not_found': 'Non trovato: potrebbe essere stato eliminato nel frattempo.',
  'err.invalid': 'La modifica è stata rifiutata.',
  'err.too_many_requests': 'Troppe richieste. Attendi un momento e riprova.',
  'err.unavailable': 'Il gateway non può eseguire l’operazione ora. Riprova più tardi.',
  'err.conflict':
    'Questa pagina non è aggiornata: le applicazioni sono state modificate altrove dopo il caricamento. Non è stato salvato nulla. Ricarica la pagina e ripeti la modifica.',
  'err.reload': 'Ricarica',
  'err.dismiss': 'Chiudi',
  'err.problems': 'Problemi:',

  'common.cancel': 'Annulla',
  'common.close': 'Chiudi',
  'common.save': 'Salva',
  'common.done': 'Fatto',
  'common.copy': 'Copia',
  'common.copy_named': 'Copia {what}',
  'common.copied': 'Copiato negli appunti.',
  'common.copy_failed': 'Impossibile copiare: seleziona il testo e copialo a mano.',
  'common.show': 'Mostra',
  'common.hide': 'Nascondi',
  'common.yes': 'Sì',
  'common.no': 'No',
  'common.none': 'Nessuno',
  'common.saved': 'Salvato.',
  'common.details': 'Dettagli',

  'settings.title': 'Configurazioni globali',
  'settings.oauth_enabled': 'Abilita accesso tramite OAuth2',
  'settings.oauth_enabled.help':
    'Se disattivato, nessuna app esterna può ottenere un token e ogni token già rilasciato viene rifiutato.',
  'settings.users_can_manage_secrets':
    'Permetti agli utenti di vedere e modificare la chiave segreta delle app a loro associate',
  'settings.users_can_manage_secrets.help':
    'Gli utenti non amministratori vedono e rinnovano la chiave segreta dei loro service account nella pagina Applicazioni collegate.',
  'settings.allow_admin_users': 'Abilita connessioni con utenti amministratori',
  'settings.allow_admin_users.help':
    'Se disattivato, nessun token viene rilasciato a, o accettato per, un account amministratore.',
  'settings.on': 'Attivo',
  'settings.off': 'Disattivo',
  'settings.changed': '{setting}: {state}.',

  'apps.title': 'Applicazioni registrate',
  'apps.add': 'Aggiungi',
  'apps.empty': 'Non ci sono ancora applicazioni registrate. Usa “Aggiungi” per registrarne una.',
  'apps.col.icon': 'Icona',
  'apps.col.name': 'Nome',
  'apps.col.client_type': 'Tipo di client',
  'apps.col.client_id': 'Client ID',
  'apps.col.users': 'Utenti autorizzati',
  'apps.col.tokens': 'Stato dei token',
  'apps.col.enabled': 'Abilitato',
  'apps.col.tools': 'Strumenti',
  'apps.caption': 'Applicazioni registrate',
  'apps.type.service_account': 'Service account',
  'apps.type.web': 'Web or mobile app',
  'apps.type.web_app': 'Web application',
  'apps.type.native_app': 'Native or Single Page App',
  'apps.users.all': 'Tutti gli utenti',
  'apps.users.selected': 'Solo selezionati',
  'apps.users.groups': 'gruppi: {list}',
  'apps.users.nobody': 'nessuno selezionato',
  'apps.tokens.none': 'Nessun token attivo',
  'apps.tokens.unknown': 'Non ancora conteggiati',
  'apps.tokens.active.one': '1 token attivo',
  'apps.tokens.active.many': '{n} token attivi',
  'apps.tokens.expired.one': '1 token scaduto',
  'apps.tokens.expired.many': '{n} token scaduti',
  'apps.enabled_label': 'Abilitato: {name}',
  'apps.edit': 'Modifica',
  'apps.edit_named': 'Modifica {name}',
  'apps.revoke': 'Revoca token',
  'apps.revoke_named': 'Revoca token di {name}',
  'apps.delete': 'Elimina',
  'apps.delete_named': 'Elimina {name}',
  'apps.enabled_now': '{name} è abilitata.',
  'apps.disabled_now': '{name} è disabilitata: i suoi token smettono subito di funzionare.',
  'apps.revoke.title': 'Revocare tutti i token?',
  'apps.revoke.text':
    'Tutti i token di “{name}” smettono subito di funzionare. L’applicazione dovrà ottenerne di nuovi (gli utenti dovranno autorizzarla di nuovo).',
  'apps.revoke.confirm': 'Revoca tutti i token',
  'apps.revoked.one': '1 token revocato.',
  'apps.revoked.many': '{n} token revocati.',
  'apps.delete.title': 'Eliminare l’applicazione?',
  'apps.delete.text':
    '“{name}” ({id}) viene eliminata insieme alla sua icona e a tutti i suoi token e autorizzazioni. L’operazione non si può annullare.',
  'apps.delete.confirm': 'Elimina “{name}”',
  'apps.deleted': '{name} è stata eliminata.',

  'form.create': 'Creazione applicazione',
  'form.edit': 'Modifica applicazione',
  'form.access': 'Dati di accesso',
  'form.client_type': 'Tipo di client',
  'form.select': '--Prego Selezionare--',
  'form.client_type.service_account': 'Service account',
  'form.client_type.web': 'Web or mobile application',
  'form.client_type.help':
    'Se l’applicazione esterna richiede accesso interattivo da parte dell’utente, scegliere Web or mobile application altrimenti se l’accesso avviene in background usare Service account',
  'form.secret_type': 'Tipo di segreto',
  'form.secret_type.client_secret': 'Chiave segreta',
  'form.secret_type.signed_jwt': 'JWT firmato',
  'form.secret_type.help':
    'Con Chiave segreta verrà usato il flusso OAuth 2.0 Client Credentials con client id e chiave segreta, mentre con JWT firmato l’applicazione firma un JWT con una chiave privata generata al salvataggio.',
  'form.key_algorithm': 'Algoritmo della chiave',
  'form.key_algorithm.ES256': 'ES256 (ECDSA P-256, consigliato)',
  'form.key_algorithm.RS256': 'RS256 (RSA 2048)',
  'form.key_algorithm.help':
    'La coppia di chiavi viene generata al salvataggio; la chiave privata viene mostrata una sola volta.',
  'form.app_type': 'Tipo di applicazione',
  'form.app_type.web_app': 'Web application',
  'form.app_type.native_app': 'Native or Single Page App',
  'form.app_type.help':
    'Se l’applicazione è una Single Page App o per dispositivi mobili, senza una componente server, andrà usato il flusso del codice di autorizzazione con PKCE, altrimenti basta il normale flusso del codice di autorizzazione.',
  'form.name': 'Nome',
  'form.name.help': 'Nome per l’applicazione che accede al CRM, ad esempio: “Gestionale”',
  'form.client_id': 'Client ID',
  'form.client_id.help': 'ID da usare nell’applicazione per accedere al CRM',
  'form.client_id.generated': 'Verrà generato dopo il salvataggio',
  'form.secret': 'Chiave segreta',
  'form.secret.help': 'Verrà generata dopo il salvataggio e mostrata una sola volta.',
  'form.public_key': 'Chiave pubblica',
  'form.scope': 'Scope',
  'form.scope.help': 'Scope da usare nell’applicazione per accedere al CRM',
  'form.scope.rest.all': 'rest.all (Accesso completo via webservice REST)',
  'form.scope.rest.all.read': 'rest.all.read (Sola lettura via webservice REST)',
  'form.scope.rest.all.write': 'rest.all.write (Sola scrittura via webservice REST)',
  'form.user': 'Utente',
  'form.user.help':
    'Utente legato a queste credenziali: l’applicazione vede e modifica ciò che è permesso a questo utente.',
  'form.offline': 'Accesso offline',
  'form.offline.help':
    'Se attivo, l’applicazione potrà accedere al CRM in autonomia dopo la prima autorizzazione',
  'form.redirect_uris': 'URL di ritorno',
  'form.redirect_uris.help':
    'Indirizzi ammessi per reindirizzare l’utente all’applicazione, uno per riga',
  'form.authorized': 'Utenti autorizzati',
  'form.authorized.help': 'Utenti che possono utilizzare questa applicazione',
  'form.authorized.all': 'Tutti gli utenti',
  'form.authorized.selected': 'Solo utenti e gruppi selezionati',
  'form.groups': 'Gruppi',
  'form.users': 'Utenti',
  'form.no_groups': 'Il file degli utenti non definisce gruppi.',
  'form.consent': 'Schermata di autorizzazione',
  'form.consent.help': 'Ciò che vedono gli utenti quando l’applicazione chiede la loro autorizzazione.',
  'form.description': 'Descrizione',
  'form.icon': 'Icona',
  'form.icon.help':
    'Icona mostrata nella schermata di autorizzazione. Se più grande di 64x64, verrà ridimensionata',
  'form.icon.remove': 'Rimuovi icona',
  'form.icon.choose': 'Scegli un’immagine…',
  'form.icon.none': 'Nessun file selezionato',
  'form.icon.current': 'Icona attuale',
  'form.icon.preview': 'Anteprima dell’icona',
  'form.icon.removed': 'L’icona verrà rimossa al salvataggio.',
  'form.config': 'Informazioni di configurazione',
  'form.endpoints': 'Endpoints',
  'form.endpoint.auth': 'Auth endpoint',
  'form.endpoint.token': 'Token endpoint',
  'form.endpoint.revoke': 'Revoke endpoint',
  'form.flow': 'Flusso OAuth 2.0',
  'form.flow.unknown': 'Scegli prima il tipo di client.',
  'flow.client_credentials': 'Client Credentials',
  'flow.jwt': 'Client Credentials con JWT firmato (RFC 7523)',
  'flow.code': 'Authorization Code',
  'flow.pkce': 'Authorization Code con PKCE',
  'form.regenerate.secret': 'Rigenera chiave segreta',
  'form.regenerate.key': 'Rigenera coppia di chiavi',
  'form.regenerate.title': 'Generare una nuova chiave segreta?',
  'form.regenerate.text':
    'Viene generata una nuova chiave segreta per “{name}”, mostrata una sola volta. Quella attuale smette subito di funzionare.',
  'form.regenerate.key_text':
    'Viene generata una nuova coppia di chiavi per “{name}”; la chiave privata viene mostrata una sola volta. La chiave attuale smette subito di funzionare.',
  'form.no_changes': 'Nessuna modifica.',
  'form.invalid': 'Controlla i campi evidenziati.',
  'form.required': 'Campo obbligatorio.',
  'form.required_choice': 'Scegli un’opzione.',
  'form.bad_uri': 'Non è un URL assoluto: {uri}',
  'form.uri_fragment': 'Un URL di ritorno non può contenere un frammento (#…): {uri}',
  'form.uri_http': 'http semplice è ammesso solo per 127.0.0.1, [::1] e localhost; usa https: {uri}',
  'form.need_uri': 'Inserisci almeno un URL di ritorno.',
  'form.need_selection': 'Seleziona almeno un utente o un gruppo, oppure scegli “Tutti gli utenti”.',
  'form.icon.bad_type': 'Scegli un’immagine PNG, JPEG o GIF.',
  'form.icon.too_big': 'L’immagine supera 1 MiB.',

  'result.created': 'Applicazione creata',
  'result.regenerated': 'Nuove credenziali',
  'result.once':
    'Copia ora queste credenziali: vengono mostrate una sola volta e non si possono più vedere dopo aver lasciato questa pagina.',
  'result.client_id': 'Client ID',
  'result.secret': 'Chiave segreta',
  'result.private_key': 'Chiave privata',
  'result.download_pem': 'Scarica la chiave privata (PEM)',
  'result.download_jwk': 'Scarica la chiave privata (JWK)',
  'result.pem': 'Chiave privata (PEM, PKCS#8)',
  'result.jwk': 'Chiave privata (JWK)',
  'result.example': 'Esempio di richiesta del token',
  'result.example.help':
    'Una client assertion firmata con la nuova chiave, valida 5 minuti, e la richiesta che la scambia con un token.',
  'result.claims': 'Claims',
  'result.assertion': 'Assertion',
  'result.curl': 'curl',
  'result.no_secret': 'Questa applicazione usa PKCE e non ha una chiave segreta.',

  'account.bound': 'Associate a te',
  'account.bound.help':
    'Service account i cui token agiscono come te: vedono e modificano ciò che è permesso a te nel CRM.',
  'account.bound.empty': 'Nessun service account è associato a te.',
  'account.authorized': 'Autorizzate da te',
  'account.authorized.help':
    'Applicazioni che hai autorizzato ad accedere ai tuoi dati del CRM e che hanno ancora accesso.',
  'account.authorized.empty': 'Non hai autorizzato nessuna applicazione.',
  'account.scope': 'Scope',
  'account.client_id': 'Client ID',
  'account.secret': 'Chiave segreta',
  'account.secret.hidden': 'Nascosta',
  'account.secret.signed_jwt': 'JWT firmato: l’applicazione possiede una chiave privata.',
  'account.secret.not_shown': 'Chiedi la chiave segreta a un amministratore.',
  'account.secret.unavailable': 'La chiave segreta attuale non può essere mostrata: generane una nuova per vederla.',
  'account.regenerate': 'Rigenera chiave segreta',
  'account.regenerate.title': 'Generare una nuova chiave segreta?',
  'account.regenerate.text':
    'Viene generata una nuova chiave segreta per “{name}”. Quella attuale smette subito di funzionare: aggiorna l’applicazione con la nuova.',
  'account.regenerated': '{name}: nuova chiave segreta generata.',
  'account.authorized_at': 'Autorizzata il',
  'account.grants': 'Autorizzazioni',
  'account.revoke': 'Revoca accesso',
  'account.revoke_named': 'Revoca accesso di {name}',
  'account.revoke.title': 'Revocare l’accesso?',
  'account.revoke.text':
    '“{name}” perde subito l’accesso ai tuoi dati del CRM. Per usarla di nuovo dovrai autorizzarla di nuovo.',
  'account.revoke_bound.text':
    'Tutti i token di “{name}” smettono subito di funzionare; l’applicazione ne otterrà di nuovi con le sue credenziali.',
  'account.revoked': '{name}: accesso revocato.',
  'account.revoke_tokens': 'Revoca token',
  'account.disable': 'Disabilita',
  'account.enable': 'Abilita',
  'account.disable.title': 'Disabilitare l’applicazione?',
  'account.disable.text':
    '“{name}” viene disabilitata per tutti gli utenti e i suoi token smettono subito di funzionare. Un amministratore può riabilitarla nella pagina Applicazioni esterne.',
  'account.disabled_now': '{name} è disabilitata.',
  'account.enabled_now': '{name} è abilitata.',
  'account.state.disabled': 'Disabilitata',
  'account.description': 'Descrizione',
  'account.client_type': 'Tipo di client',
  'account.offline': 'Accesso offline',
  'account.redirect_uris': 'URL di ritorno',
  'account.user': 'Utente associato',
  'account.enabled': 'Abilitato',

  'scope.words.rest.all': 'leggere e modificare i tuoi dati del CRM',
  'scope.words.rest.all.read': 'leggere i tuoi dati del CRM',
  'scope.words.rest.all.write': 'modificare i tuoi dati del CRM',
  'scope.words.bound.rest.all': 'leggere e modificare i dati del CRM',
  'scope.words.bound.rest.all.read': 'leggere i dati del CRM',
  'scope.words.bound.rest.all.write': 'modificare i dati del CRM',
};

const TABLES = { en: EN, it: IT };

/** The first of the browser's languages that is English or Italian; English otherwise. */
function choose() {
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base in TABLES) return base;
  }
  return 'en';
}

export const lang = choose();
const table = TABLES[lang];

/** The text for `key` with `{name}` placeholders filled from `vars`; the key itself if unknown. */
export function t(key, vars = {}) {
  const text = table[key] ?? EN[key];
  if (text === undefined) {
    console.error(`i18n: no text for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** `key.one` for 1, `key.many` otherwise, with {n}. */
export function plural(key, n) {
  return t(`${key}.${n === 1 ? 'one' : 'many'}`, { n });
}

/** Fills every data-i18n* attribute under `root` and sets `<html lang>`. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const attrs = [
    ['i18nLabel', 'aria-label'],
    ['i18nPlaceholder', 'placeholder'],
    ['i18nTitle', 'title'],
    ['i18nAlt', 'alt'],
  ];
  for (const [data, attr] of attrs) {
    const sel = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const el of root.querySelectorAll(sel)) el.setAttribute(attr, t(el.dataset[data]));
  }
}

/** A Unix time as a date and time in the page's language. */
export function formatTime(unix) {
  if (typeof unix !== 'number' || !Number.isFinite(unix)) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(unix * 1000),
  );
}

/** The canonical scope name of a space-separated OAuth scope string. */
export function canonicalScope(scope) {
  const names = new Set(String(scope || '').split(/\s+/).filter(Boolean));
  const read = names.has('rest.all') || names.has('rest.all.read');
  const write = names.has('rest.all') || names.has('rest.all.write');
  if (read && write) return 'rest.all';
  if (read) return 'rest.all.read';
  if (write) return 'rest.all.write';
  return '';
}

/** What a scope lets an app do, in words: "your" data for apps a user authorized. */
export function scopeWords(scope, { bound = false } = {}) {
  const name = canonicalScope(scope);
  if (!name) return String(scope || '');
  return t(`scope.words.${bound ? 'bound.' : ''}${name}`);
}

/** For the check that both tables have the same keys (used by the page tests). */
export const _tables = TABLES;
