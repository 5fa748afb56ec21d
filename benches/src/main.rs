//! The casemate benchmark runner: `cargo run --release -p casemate-bench -- NAME`.
//! Each benchmark prints its figures; none asserts on them.

mod authz;
mod backend;
mod load;
mod mlflow;
mod registry;
mod runs;
mod scoring;
mod secret_get;
mod server;
mod startup;
mod stats;
mod stream;
mod symbol_order;

fn main() -> anyhow::Result<()> {
    let name = std::env::args().nth(1).unwrap_or_default();
    let rest: Vec<String> = std::env::args().skip(2).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match name.as_str() {
        "authz" => runtime.block_on(authz::run()),
        "stream" => stream::run(),
        "secret-get" => runtime.block_on(secret_get::run(&rest)),
        "runs" => runtime.block_on(runs::run(&rest)),
        "mlflow" => runtime.block_on(mlflow::run(&rest)),
        "startup" => runtime.block_on(startup::run()),
        "scoring" => runtime.block_on(scoring::run()),
        "registry" => runtime.block_on(registry::run()),
        "symbol-order" => runtime.block_on(symbol_order::run()),
        "all" => {
            runtime.block_on(authz::run())?;
            stream::run()?;
            runtime.block_on(secret_get::run(&[]))?;
            runtime.block_on(runs::run(&[]))?;
            runtime.block_on(mlflow::run(&[]))?;
            runtime.block_on(startup::run())?;
            runtime.block_on(scoring::run())?;
            runtime.block_on(registry::run())
        }
        _ => {
            eprintln!(
                "usage: casemate-bench <authz|stream|secret-get [--backend sqlite|postgres]|runs [--compute local|ray]|mlflow [--backend sqlite|postgres]|startup|scoring|registry|all|symbol-order>"
            );
            std::process::exit(2);
        }
    }
}
