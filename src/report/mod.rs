//! Report rendering: text (emoji / ASCII), JSON, live progress.
pub mod model;
