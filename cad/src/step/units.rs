//! The file's length and plane-angle units, from the representation context's
//! GLOBAL_UNIT_ASSIGNED_CONTEXT (SI_UNIT with a prefix, or CONVERSION_BASED_UNIT by name).

use super::part21::{Entity, Exchange, Param};
use crate::LengthUnit;

/// Units declared by a file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    /// The length unit, `None` when the file does not declare one we know.
    pub length: Option<LengthUnit>,
    /// Radians per plane-angle unit (1, or π/180 for degrees).
    pub angle: f64,
}

/// The units of the first representation context that assigns any.
#[must_use]
pub fn find(ex: &Exchange) -> Units {
    let mut units = Units {
        length: None,
        angle: 1.0,
    };
    let Some(list) = ex.entities.values().find_map(|e| {
        e.record("GLOBAL_UNIT_ASSIGNED_CONTEXT")
            .and_then(|r| r.param(0))
            .and_then(Param::as_list)
    }) else {
        return units;
    };
    for u in list {
        let Some(e) = u.as_ref_id().and_then(|id| ex.get(id)) else {
            continue;
        };
        if e.record("LENGTH_UNIT").is_some() {
            units.length = length(e);
        } else if e.record("PLANE_ANGLE_UNIT").is_some() && is_degree(e) {
            units.angle = std::f64::consts::PI / 180.0;
        }
    }
    units
}

fn length(e: &Entity) -> Option<LengthUnit> {
    if let Some(si) = e.record("SI_UNIT") {
        if si.param(1)?.as_enum()? != "METRE" {
            return None;
        }
        return match si.param(0)? {
            Param::Null => Some(LengthUnit::Metre),
            Param::Enum(p) if p == "MILLI" => Some(LengthUnit::Millimetre),
            Param::Enum(p) if p == "CENTI" => Some(LengthUnit::Centimetre),
            _ => None,
        };
    }
    let name = e.record("CONVERSION_BASED_UNIT")?.param(0)?.as_str()?;
    match name.to_ascii_uppercase().as_str() {
        "INCH" | "IN" => Some(LengthUnit::Inch),
        "FOOT" | "FT" => Some(LengthUnit::Foot),
        "MILLIMETRE" | "MILLIMETER" | "MM" => Some(LengthUnit::Millimetre),
        "CENTIMETRE" | "CENTIMETER" | "CM" => Some(LengthUnit::Centimetre),
        "METRE" | "METER" | "M" => Some(LengthUnit::Metre),
        _ => None,
    }
}

fn is_degree(e: &Entity) -> bool {
    e.record("CONVERSION_BASED_UNIT")
        .and_then(|r| r.param(0))
        .and_then(Param::as_str)
        .is_some_and(|n| n.to_ascii_uppercase().starts_with("DEG"))
}
