mod calendar;
pub(crate) use calendar::go_parse_duration;
pub mod spec;
#[cfg(test)]
mod spec_tests;
