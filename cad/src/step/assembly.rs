//! The product structure: which solids make up which part, where each part is placed, and what
//! it is called.
//!
//! AP203/AP214 tie a PRODUCT (the name) through PRODUCT_DEFINITION_FORMATION and
//! PRODUCT_DEFINITION to a PRODUCT_DEFINITION_SHAPE, whose SHAPE_DEFINITION_REPRESENTATION names
//! the shape representation holding the solids. An assembly's components are
//! NEXT_ASSEMBLY_USAGE_OCCURRENCEs (parent and child product definitions); each has a
//! CONTEXT_DEPENDENT_SHAPE_REPRESENTATION whose REPRESENTATION_RELATIONSHIP_WITH_TRANSFORMATION
//! carries an ITEM_DEFINED_TRANSFORMATION: the child is moved so that its placement `item_1`
//! lands on the assembly's placement `item_2`. Representations may also be chained by plain
//! SHAPE_REPRESENTATION_RELATIONSHIPs and instanced by MAPPED_ITEMs.
//!
//! A file without products (bare solids) gets one root node holding every solid.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::geometry::GeometryReader;
use super::linalg::Affine;
use super::part21::{Entity, Exchange, Param};
use super::topology::SOLID_NAMES;
use crate::{CadError, Limits, Node};

/// Deepest assembly nesting and MAPPED_ITEM chain followed.
const MAX_DEPTH: usize = 64;

/// A solid placed in the world, hanging from a tree node.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Index into the node list.
    pub node: usize,
    /// Part name.
    pub name: String,
    /// The solid entity.
    pub solid: u64,
    /// Local-to-world transform.
    pub transform: Affine,
}

/// Nodes and placed solids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Structure {
    /// Tree nodes, parents first.
    pub nodes: Vec<Node>,
    /// Solids with their world transforms.
    pub placements: Vec<Placement>,
}

struct Reader<'a> {
    ex: &'a Exchange,
    geo: &'a GeometryReader<'a>,
    /// Product definition → its shape representations.
    reps: BTreeMap<u64, Vec<u64>>,
    /// Representation → representations tied to it without a transform.
    links: HashMap<u64, Vec<u64>>,
    /// Parent product definition → (NAUO, child product definition).
    children: BTreeMap<u64, Vec<(u64, u64)>>,
    /// NAUO → transform from the child's coordinates to the parent's.
    transforms: HashMap<u64, Affine>,
    limits: &'a Limits,
}

/// Reads the product structure.
///
/// # Errors
/// [`CadError::TooLarge`] when the tree exceeds `limits.max_nodes`.
pub fn read(ex: &Exchange, geo: &GeometryReader, limits: &Limits) -> Result<Structure, CadError> {
    let mut r = Reader {
        ex,
        geo,
        reps: BTreeMap::new(),
        links: HashMap::new(),
        children: BTreeMap::new(),
        transforms: HashMap::new(),
        limits,
    };
    r.index();
    let mut out = Structure::default();
    let child_pds: BTreeSet<u64> = r.children.values().flatten().map(|&(_, c)| c).collect();
    let roots: Vec<u64> = r
        .reps
        .keys()
        .chain(r.children.keys())
        .copied()
        .filter(|pd| !child_pds.contains(pd))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for root in roots {
        let name = r.product_name(root).unwrap_or_else(|| "STEP model".into());
        r.visit(&mut out, root, None, name, Affine::IDENTITY, 0)?;
    }
    if out.placements.is_empty() {
        // No product structure (or none that reaches a solid): every solid under one root.
        let node = out.nodes.len();
        out.nodes.push(Node {
            name: "STEP model".into(),
            parent: None,
        });
        for (&id, e) in &ex.entities {
            if e.simple_name().is_some_and(|n| SOLID_NAMES.contains(&n)) {
                out.placements.push(Placement {
                    node,
                    name: format!("solid #{id}"),
                    solid: id,
                    transform: Affine::IDENTITY,
                });
            }
        }
    }
    Ok(out)
}

impl Reader<'_> {
    fn index(&mut self) {
        let ex = self.ex;
        let mut cdsr: Vec<(u64, u64)> = Vec::new();
        for (&id, e) in &ex.entities {
            match e {
                Entity::Simple(rec) => match rec.name.as_str() {
                    "SHAPE_DEFINITION_REPRESENTATION" => {
                        let pd = rec
                            .param(0)
                            .and_then(Param::as_ref_id)
                            .and_then(|pds| ex.record(pds, "PRODUCT_DEFINITION_SHAPE"))
                            .and_then(|pds| pds.param(2))
                            .and_then(Param::as_ref_id)
                            .filter(|&pd| ex.record(pd, "PRODUCT_DEFINITION").is_some());
                        if let (Some(pd), Some(rep)) = (pd, rec.param(1).and_then(Param::as_ref_id))
                        {
                            self.reps.entry(pd).or_default().push(rep);
                        }
                    }
                    "NEXT_ASSEMBLY_USAGE_OCCURRENCE" => {
                        if let (Some(parent), Some(child)) = (
                            rec.param(3).and_then(Param::as_ref_id),
                            rec.param(4).and_then(Param::as_ref_id),
                        ) {
                            self.children.entry(parent).or_default().push((id, child));
                        }
                    }
                    "SHAPE_REPRESENTATION_RELATIONSHIP" => {
                        if let (Some(a), Some(b)) = (
                            rec.param(2).and_then(Param::as_ref_id),
                            rec.param(3).and_then(Param::as_ref_id),
                        ) {
                            self.links.entry(a).or_default().push(b);
                            self.links.entry(b).or_default().push(a);
                        }
                    }
                    "CONTEXT_DEPENDENT_SHAPE_REPRESENTATION" => {
                        if let (Some(rel), Some(pds)) = (
                            rec.param(0).and_then(Param::as_ref_id),
                            rec.param(1).and_then(Param::as_ref_id),
                        ) {
                            cdsr.push((rel, pds));
                        }
                    }
                    _ => {}
                },
                Entity::Complex(_) => {}
            }
        }
        for (rel, pds) in cdsr {
            let Some(nauo) = ex
                .record(pds, "PRODUCT_DEFINITION_SHAPE")
                .and_then(|r| r.param(2))
                .and_then(Param::as_ref_id)
            else {
                continue;
            };
            let Some(child_pd) = ex
                .record(nauo, "NEXT_ASSEMBLY_USAGE_OCCURRENCE")
                .and_then(|r| r.param(4))
                .and_then(Param::as_ref_id)
            else {
                continue;
            };
            if let Some(t) = self.relationship_transform(rel, child_pd) {
                self.transforms.insert(nauo, t);
            }
        }
    }

    /// The transform of a representation relationship, oriented child → parent.
    fn relationship_transform(&self, rel: u64, child_pd: u64) -> Option<Affine> {
        let e = self.ex.get(rel)?;
        let rr = e.record("REPRESENTATION_RELATIONSHIP")?;
        let rep_1 = rr.param(2)?.as_ref_id()?;
        let rep_2 = rr.param(3)?.as_ref_id()?;
        let idt = e
            .record("REPRESENTATION_RELATIONSHIP_WITH_TRANSFORMATION")?
            .param(0)?
            .as_ref_id()?;
        let t = self.ex.record(idt, "ITEM_DEFINED_TRANSFORMATION")?;
        let a1 = Affine::from_frame(&self.geo.frame(t.param(2)?.as_ref_id()?)?);
        let a2 = Affine::from_frame(&self.geo.frame(t.param(3)?.as_ref_id()?)?);
        let child_reps = self.reachable_reps(child_pd);
        if child_reps.contains(&rep_2) && !child_reps.contains(&rep_1) {
            Some(a1.then_after(&a2.rigid_inverse()))
        } else {
            Some(a2.then_after(&a1.rigid_inverse()))
        }
    }

    /// A product definition's representations and those linked to them without a transform.
    fn reachable_reps(&self, pd: u64) -> BTreeSet<u64> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<u64> = self.reps.get(&pd).cloned().unwrap_or_default();
        while let Some(rep) = stack.pop() {
            if seen.insert(rep) {
                stack.extend(self.links.get(&rep).into_iter().flatten());
            }
        }
        seen
    }

    fn product_name(&self, pd: u64) -> Option<String> {
        let ex = self.ex;
        let pdr = ex.record(pd, "PRODUCT_DEFINITION")?;
        let formation = ex.get(pdr.param(2)?.as_ref_id()?)?.simple()?;
        let product = ex.record(formation.param(2)?.as_ref_id()?, "PRODUCT")?;
        let name = product.param(1)?.as_str().filter(|s| !s.is_empty());
        let id = product.param(0)?.as_str().filter(|s| !s.is_empty());
        name.or(id).map(str::to_owned)
    }

    fn visit(
        &self,
        out: &mut Structure,
        pd: u64,
        parent: Option<usize>,
        name: String,
        world: Affine,
        depth: usize,
    ) -> Result<(), CadError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        if out.nodes.len() as u64 >= self.limits.max_nodes {
            return Err(CadError::TooLarge {
                what: "part tree nodes",
                limit: self.limits.max_nodes,
            });
        }
        let node = out.nodes.len();
        out.nodes.push(Node {
            name: name.clone(),
            parent,
        });
        let mut solids = Vec::new();
        for rep in self.reachable_reps(pd) {
            self.solids_in(rep, Affine::IDENTITY, 0, &mut solids);
        }
        let many = solids.len() > 1;
        for (k, (solid, local)) in solids.into_iter().enumerate() {
            out.placements.push(Placement {
                node,
                name: if many {
                    format!("{name} {}", k + 1)
                } else {
                    name.clone()
                },
                solid,
                transform: world.then_after(&local),
            });
        }
        for &(nauo, child) in self.children.get(&pd).into_iter().flatten() {
            let t = self
                .transforms
                .get(&nauo)
                .copied()
                .unwrap_or(Affine::IDENTITY);
            let child_name = self
                .product_name(child)
                .or_else(|| {
                    let r = self.ex.record(nauo, "NEXT_ASSEMBLY_USAGE_OCCURRENCE")?;
                    r.param(1)?.as_str().map(str::to_owned)
                })
                .unwrap_or_else(|| format!("component #{nauo}"));
            self.visit(
                out,
                child,
                Some(node),
                child_name,
                world.then_after(&t),
                depth + 1,
            )?;
        }
        Ok(())
    }

    /// Solids among a representation's items, following MAPPED_ITEMs.
    fn solids_in(&self, rep: u64, t: Affine, depth: usize, out: &mut Vec<(u64, Affine)>) {
        if depth > MAX_DEPTH || out.len() > 1_000_000 {
            return;
        }
        let Some(items) = self
            .ex
            .get(rep)
            .and_then(Entity::simple)
            .and_then(|r| r.param(1))
            .and_then(Param::as_list)
        else {
            return;
        };
        for item in items {
            let Some(id) = item.as_ref_id() else { continue };
            let Some(r) = self.ex.get(id).and_then(Entity::simple) else {
                continue;
            };
            if SOLID_NAMES.contains(&r.name.as_str()) {
                out.push((id, t));
            } else if r.name == "MAPPED_ITEM" {
                let Some((mapped, local)) = self.mapped_item(r) else {
                    continue;
                };
                self.solids_in(mapped, t.then_after(&local), depth + 1, out);
            }
        }
    }

    /// A MAPPED_ITEM's representation and transform (origin placement onto target).
    fn mapped_item(&self, r: &super::part21::Record) -> Option<(u64, Affine)> {
        let map = self
            .ex
            .record(r.param(1)?.as_ref_id()?, "REPRESENTATION_MAP")?;
        let origin = self.geo.frame(map.param(0)?.as_ref_id()?)?;
        let mapped = map.param(1)?.as_ref_id()?;
        let target = self.geo.frame(r.param(2)?.as_ref_id()?)?;
        let t =
            Affine::from_frame(&target).then_after(&Affine::from_frame(&origin).rigid_inverse());
        Some((mapped, t))
    }
}
