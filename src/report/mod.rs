//! Report rendering: text (emoji / ASCII), JSON, live progress.

pub mod json;
pub mod model;
pub mod text;
