//! The floor for load tests: a bare actix-web server that only parses each POSTed body with
//! serde_json and answers `{"cards": []}`. Compare the service against it with the same load
//! (README §Performance): `cargo run --release --example parse_only_server -- 127.0.0.1:18090`.

use actix_web::{web, App, HttpResponse, HttpServer};

async fn parse_only(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"cards": []})),
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let nodelay = std::env::var("TCP_NODELAY").is_ok_and(|v| v == "1");
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(5 * 1024 * 1024))
            .default_service(web::post().to(parse_only))
    })
    .tcp_nodelay(nodelay)
    .bind(bind)?
    .run()
    .await
}
