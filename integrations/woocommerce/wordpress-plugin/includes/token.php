<?php
/**
 * The signed token that lets PhotoSync trust the WordPress user in its iframe.
 *
 * Kept free of WordPress functions so that PhotoSync's test suite runs this very code with
 * php-cli. The token is a standard JWT (RFC 7519) signed with HS256 and the store's embed
 * secret (which PhotoSync wrote into this plugin's options), with the claims iss (this
 * site's home URL), aud ("photosync:woocommerce-embed"), sub (the WordPress user), store
 * (PhotoSync's id of this store), name, iat, exp (at most five minutes later) and a random
 * jti. PhotoSync checks all of them, records the jti as used in its database (so the token
 * opens one session, whichever of PhotoSync's processes receives it), then opens a session
 * bound to this store.
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
	$header  = array(
		'alg' => 'HS256',
		'typ' => 'JWT',
	);
	$payload = array(
		'iss'   => (string) $store_url,
		'aud'   => 'photosync:woocommerce-embed',
		'sub'   => (string) $user_id,
		'store' => (string) $store_id,
		'name'  => (string) $name,
		'iat'   => (int) $now,
		'exp'   => (int) $now + (int) $ttl,
		'jti'   => bin2hex( random_bytes( 16 ) ),
	);
	$flags   = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
	$signed  = photosync_base64url( json_encode( $header ) ) . '.'
		. photosync_base64url( json_encode( $payload, $flags ) );
	$mac     = hash_hmac( 'sha256', $signed, (string) $secret, true );
	return $signed . '.' . photosync_base64url( $mac );
}
