<?php
/**
 * Plugin Name:       PhotoSync for WooCommerce
 * Description:       Review and approve PhotoSync's product images without leaving WooCommerce.
 * Version:           0.2.0
 * Requires at least: 6.0
 * Requires PHP:      7.4
 * Requires Plugins:  woocommerce
 * License:           MIT
 * Text Domain:       photosync
 *
 * What it does:
 * - adds WooCommerce → PhotoSync for users who can manage WooCommerce;
 * - before the store is connected, asks for PhotoSync's address and starts the wc-auth flow
 *   there (PhotoSync redirects back here to ask for read/write API access);
 * - once connected, shows PhotoSync in an iframe, passing a short-lived signed token that
 *   PhotoSync trades for a session bound to this store.
 *
 * PhotoSync writes this plugin's three options itself, through WooCommerce's REST settings
 * API, when it connects and on its regular health checks: nothing to paste by hand.
 *
 * @package PhotoSync
 */

defined( 'ABSPATH' ) || exit;

require_once __DIR__ . '/includes/token.php';

/**
 * The options PhotoSync writes (group "photosync" of WooCommerce's settings API).
 *
 * @return array[]
 */
function photosync_settings() {
	return array(
		array(
			'id'          => 'photosync_app_url',
			'option_key'  => 'photosync_app_url',
			'label'       => __( 'PhotoSync address', 'photosync' ),
			'description' => __( 'Where PhotoSync runs, e.g. https://photos.example.com.', 'photosync' ),
			'type'        => 'text',
			'default'     => '',
		),
		array(
			'id'          => 'photosync_store_id',
			'option_key'  => 'photosync_store_id',
			'label'       => __( 'Store id in PhotoSync', 'photosync' ),
			'description' => '',
			'type'        => 'text',
			'default'     => '',
		),
		array(
			'id'          => 'photosync_embed_secret',
			'option_key'  => 'photosync_embed_secret',
			'label'       => __( 'Embed secret', 'photosync' ),
			'description' => __( 'Signs the sign-in tokens for the PhotoSync page.', 'photosync' ),
			'type'        => 'password',
			'default'     => '',
		),
	);
}

add_filter(
	'woocommerce_settings_groups',
	function ( $groups ) {
		$groups[] = array(
			'id'          => 'photosync',
			'label'       => __( 'PhotoSync', 'photosync' ),
			'description' => __( 'Written by PhotoSync when it connects to this store.', 'photosync' ),
		);
		return $groups;
	}
);

add_filter(
	'woocommerce_settings-photosync',
	function ( $settings ) {
		return array_merge( $settings, photosync_settings() );
	}
);

add_action(
	'admin_menu',
	function () {
		add_submenu_page(
			'woocommerce',
			__( 'PhotoSync', 'photosync' ),
			__( 'PhotoSync', 'photosync' ),
			'manage_woocommerce',
			'photosync',
			'photosync_render_page'
		);
	},
	60
);

/**
 * WooCommerce → PhotoSync: the connect form, or PhotoSync itself in an iframe.
 */
function photosync_render_page() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		wp_die( esc_html__( 'You are not allowed to view this page.', 'photosync' ), 403 );
	}
	$app      = untrailingslashit( (string) get_option( 'photosync_app_url', '' ) );
	$store_id = (string) get_option( 'photosync_store_id', '' );
	$secret   = (string) get_option( 'photosync_embed_secret', '' );

	echo '<div class="wrap"><h1>' . esc_html__( 'PhotoSync', 'photosync' ) . '</h1>';
	if ( '' === $app || '' === $store_id || '' === $secret ) {
		photosync_render_connect( $app );
	} else {
		$user  = wp_get_current_user();
		$token = photosync_embed_token( $secret, home_url(), $store_id, (string) $user->ID, $user->display_name, time() );
		$src   = $app . '/woocommerce/embed/' . rawurlencode( $store_id ) . '?token=' . rawurlencode( $token );
		printf(
			'<iframe src="%s" title="%s" style="width:100%%;height:calc(100vh - 170px);border:0;background:#fff"></iframe>',
			esc_url( $src ),
			esc_attr__( 'PhotoSync', 'photosync' )
		);
		printf(
			'<p><a href="%s">%s</a></p>',
			esc_url( $app . '/woocommerce/connect?store=' . rawurlencode( home_url() ) ),
			esc_html__( 'Reconnect this store', 'photosync' )
		);
	}
	echo '</div>';
}

/**
 * The form that starts the connection: PhotoSync's address, then the wc-auth flow.
 *
 * @param string $app The address entered before, if any.
 */
function photosync_render_connect( $app ) {
	if ( isset( $_GET['photosync_error'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		echo '<div class="notice notice-error"><p>' . esc_html__( 'Enter PhotoSync\'s address, starting with https://.', 'photosync' ) . '</p></div>';
	}
	echo '<p>' . esc_html__( 'Connect this store to PhotoSync. You will be asked to give PhotoSync read and write access to your products; it adds images only after you approve them.', 'photosync' ) . '</p>';
	echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
	echo '<input type="hidden" name="action" value="photosync_connect">';
	wp_nonce_field( 'photosync_connect' );
	printf(
		'<p><label>%s <input type="url" name="photosync_app_url" class="regular-text" value="%s" placeholder="https://photos.example.com" required></label></p>',
		esc_html__( 'PhotoSync address', 'photosync' ),
		esc_attr( $app )
	);
	submit_button( __( 'Connect to PhotoSync', 'photosync' ) );
	echo '</form>';
}

add_action(
	'admin_post_photosync_connect',
	function () {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'You are not allowed to do this.', 'photosync' ), 403 );
		}
		check_admin_referer( 'photosync_connect' );
		$app = isset( $_POST['photosync_app_url'] ) ? esc_url_raw( wp_unslash( $_POST['photosync_app_url'] ) ) : '';
		if ( '' === $app || ! wp_http_validate_url( $app ) ) {
			wp_safe_redirect( admin_url( 'admin.php?page=photosync&photosync_error=1' ) );
			exit;
		}
		$app = untrailingslashit( $app );
		update_option( 'photosync_app_url', $app );
		// PhotoSync's connect page sends the browser to this store's wc-auth approval page.
		wp_redirect( $app . '/woocommerce/connect?store=' . rawurlencode( home_url() ) ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}
);
