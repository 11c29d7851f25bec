/** Security: management tokens and the checks that guard the APIs. */
export { TokenStore, TOKEN_PREFIX, bearerToken, isLoopbackHost, tokenFilePath } from './tokens.js';
export type { StoredToken } from './tokens.js';
