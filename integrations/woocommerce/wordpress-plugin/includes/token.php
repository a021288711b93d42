<?php
/**
 * The signed token that lets PhotoSync trust the WordPress user in its iframe.
 *
 * Kept free of WordPress functions so that PhotoSync's test suite runs this very code with
 * php-cli. The token is base64url(JSON payload) "." base64url(HMAC-SHA256(secret, part 1)).
 * PhotoSync checks the signature with the store's embed secret (which it wrote into this
 * plugin's options), the store, the origin, the age (at most five minutes) and that the
 * random `jti` was never used before, then opens a session bound to this store.
 *
 * @package PhotoSync
 */

if ( ! defined( 'ABSPATH' ) && 'cli' !== PHP_SAPI ) {
	exit;
}

/**
 * Base64url without padding (RFC 4648, section 5).
 *
 * @param string $data Raw bytes.
 * @return string
 */
function photosync_base64url( $data ) {
	return rtrim( strtr( base64_encode( $data ), '+/', '-_' ), '=' );
}

/**
 * A short-lived token for one page view.
 *
 * @param string $secret    The embed secret PhotoSync generated for this store.
 * @param string $store_url This site's home URL (its origin must match the connected store).
 * @param string $store_id  PhotoSync's id of this store.
 * @param string $user_id   The WordPress user's id.
 * @param string $name      The user's display name (shown in PhotoSync).
 * @param int    $now       Unix time.
 * @param int    $ttl       Seconds the token lives (PhotoSync accepts at most 300).
 * @return string
 */
function photosync_embed_token( $secret, $store_url, $store_id, $user_id, $name, $now, $ttl = 120 ) {
	$payload = array(
		'v'     => 1,
		'iss'   => (string) $store_url,
		'store' => (string) $store_id,
		'sub'   => (string) $user_id,
		'name'  => (string) $name,
		'iat'   => (int) $now,
		'exp'   => (int) $now + (int) $ttl,
		'jti'   => bin2hex( random_bytes( 16 ) ),
	);
	$body    = photosync_base64url( json_encode( $payload, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
	$mac     = hash_hmac( 'sha256', $body, (string) $secret, true );
	return $body . '.' . photosync_base64url( $mac );
}
