//! Integration tests of the CAD loaders: fixtures, hostile input, STEP, DXF, measuring, a Debian OBJ and the occt-import-js comparison.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark-cad --test cad MODULE::`.

mod debian;
mod dxf;
mod fixtures;
mod hostile;
mod measure;
mod step;
mod step_occt;
