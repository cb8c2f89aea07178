//! The calibration page (`calibration.html`): what `pqlsync calibrate` learned, laid out for a
//! person. The statistics themselves are `pqlsync_calibrate`'s, over plain examples.

pub mod html;
