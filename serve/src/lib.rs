//! Host-side tooling for Atelier.
//!
//! - [`server`]: an HTTP server that sends the cross-origin isolation headers
//!   (COOP/COEP/CORP) on every response and collects reports from test pages.
//! - [`chromium`]: runs one page in headless Chromium and gathers what it reports.
//! - [`setup`], [`build`], [`suite`], [`bench`]: the `cargo atelier` subcommands.
//! - [`size`]: the package size report `build` prints and holds to a budget.
//! - [`term`]: what pages report, made safe to print on a terminal.
//!
//! The binary (`src/main.rs`) only parses arguments and calls into these modules.

pub mod bench;
pub mod build;
pub mod chromium;
pub mod http;
pub mod process;
pub mod repo;
pub mod report;
pub mod resolve;
pub mod server;
pub mod setup;
pub mod size;
pub mod suite;
pub mod term;
