//! The keys that bring a population closer to the Internet — connectability, regions
//! and a locality-aware tracker, super-seeding, arrival traces — as a user meets them:
//! parsed strictly, written back only where they differ from their defaults (so older
//! scenarios keep their exact `scenario.toml`), and sweepable.

use super::*;

/// `BASE` with `line` added to the leechers' group.
fn leechers_with(line: &str) -> String {
    format!("{BASE}{line}\n")
}

#[test]
fn connectable_is_a_group_key_defaulting_to_true() {
    let s = parse(BASE);
    assert!(s.groups.iter().all(|g| g.connectable));
    assert!(
        !s.to_toml().contains("connectable"),
        "defaults are not written"
    );
    let s = parse(&leechers_with("connectable = false"));
    assert!(s.groups[0].connectable);
    assert!(!s.groups[1].connectable);
    let text = s.to_toml();
    assert!(text.contains("connectable = false"), "{text}");
    assert_eq!(parse(&text), s);
    let member = &crate::scenario::population::draw_population(&s, 1)[1];
    assert!(!member.peer_config(&s, crate::core::PeerId(1)).connectable);
}

#[test]
fn connectable_is_strict_and_sweepable() {
    assert_eq!(
        error(&leechers_with("connectable = \"no\"")),
        "bad.toml:16: group.leechers.connectable: \"no\" is a string (expected true or false)"
    );
    let s = parse(&format!(
        "{BASE}\n[sweep]\n\"group.leechers.connectable\" = [true, false]\n"
    ));
    let points = s.sweep_points();
    assert_eq!(points.len(), 2);
    assert!(s.with_overrides(&points[0]).expect("applies").groups[1].connectable);
    assert!(!s.with_overrides(&points[1]).expect("applies").groups[1].connectable);
    assert!(
        error(&format!(
            "{BASE}\n[sweep]\n\"group.leechers.connectable\" = [0]\n"
        ))
        .starts_with("bad.toml:18: sweep.group.leechers.connectable: 0 is an integer")
    );
}
