//! The per-group plot of `facecheck eval checkin --plot`: one row per group, FNMR on the left and FMR on the right,
//! each a dot at the measured rate with a bar over its 95 % interval, labelled with the counts.

use crate::draw::line;
use crate::metrics::Rate;
use image::{Rgb, RgbImage};

/// One row of the plot.
pub struct Row {
    /// The group's name (`everyone`, `gender female`, ...).
    pub label: String,
    /// False non-matches.
    pub fnmr: Rate,
    /// False matches.
    pub fmr: Rate,
}

/// A 5x7 bitmap font (rows top to bottom, bit 4 the leftmost pixel) for the characters the plot writes; letters are
/// drawn as capitals, anything else as a blank.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        _ => [0; 7],
    }
}

const SCALE: u32 = 2;
const ADVANCE: u32 = 6 * SCALE;
const ROW: u32 = 28;
const PANEL: u32 = 320;
const VALUES: u32 = 23 * ADVANCE;
/// Rows with fewer trials do not set the axis.
const MIN_TRIALS_FOR_AXIS: usize = 50;

/// Writes `text` with its top-left corner at `(x, y)`.
fn text(img: &mut RgbImage, x: u32, y: u32, text: &str, colour: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let (px, py) = (x + i as u32 * ADVANCE + col * SCALE + dx, y + row as u32 * SCALE + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, colour);
                        }
                    }
                }
            }
        }
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (and at least 1e-4).
fn nice_ceiling(v: f64) -> f64 {
    let v = v.max(1e-4);
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&c| c >= v * (1.0 - 1e-9)).unwrap_or(10.0 * power)
}

fn percent(v: f64) -> String {
    let p = 100.0 * v;
    if p == 0.0 {
        "0".into()
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// Draws the rows: the left column names the group, then each panel shows the rate (a black square) and its
/// interval on a linear axis from 0 to a round number above the interval ends of the rows with at least
/// [`MIN_TRIALS_FOR_AXIS`] trials (a thinner row's interval that runs further ends in an arrow), then the value
/// with its counts.
pub fn draw(rows: &[Row]) -> RgbImage {
    let label_width = rows.iter().map(|r| r.label.chars().count() as u32).max().unwrap_or(0).max(8) * ADVANCE + 16;
    let width = label_width + 2 * (PANEL + VALUES) + 20;
    let height = (rows.len() as u32 + 3) * ROW;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let (black, grey, light) = (Rgb([0, 0, 0]), Rgb([120, 120, 120]), Rgb([225, 225, 225]));
    type Pick = fn(&Row) -> Rate;
    let panels: [(&str, Pick, Rgb<u8>); 2] =
        [("FNMR", |r| r.fnmr, Rgb([200, 30, 30])), ("FMR", |r| r.fmr, Rgb([30, 60, 200]))];
    for (p, (title, pick, colour)) in panels.iter().enumerate() {
        let x0 = label_width + p as u32 * (PANEL + VALUES);
        // The axis fits the intervals of the rows with enough trials; a thinner row's interval may run off its end.
        let highest = |least: usize| {
            rows.iter().map(pick).filter(|r| r.of >= least).map(|r| r.ci95[1].max(1.5 * r.rate)).fold(0.0, f64::max)
        };
        let enough = highest(MIN_TRIALS_FOR_AXIS);
        let max = nice_ceiling(if enough > 0.0 { enough } else { highest(1) });
        text(&mut img, x0, 6, &format!("{title} (95% CI)"), black);
        text(&mut img, x0 + PANEL + 8, 6, "RATE (ERRORS/TRIALS)", grey);
        let top = 2 * ROW - 4;
        let bottom = height - ROW + 4;
        for q in 0..=4u32 {
            let x = x0 as f32 + (q * PANEL / 4) as f32;
            line(&mut img, (x, top as f32), (x, bottom as f32), 1, if q == 0 { black } else { light });
            let label = percent(max * f64::from(q) / 4.0);
            let shift = if q == 0 { 0 } else { label.chars().count() as u32 * ADVANCE / 2 };
            if q % 2 == 0 {
                text(&mut img, (x as u32).saturating_sub(shift), ROW + 2, &label, grey);
            }
        }
        for (i, row) in rows.iter().enumerate() {
            let y = (2 * ROW + i as u32 * ROW + ROW / 2) as f32;
            let rate = pick(row);
            if rate.of == 0 {
                text(&mut img, x0 + 8, y as u32 - 7, "NO TRIALS", grey);
                continue;
            }
            let at = |v: f64| x0 as f32 + (v / max).clamp(0.0, 1.0) as f32 * PANEL as f32;
            let (lo, hi) = (at(rate.ci95[0]), at(rate.ci95[1]));
            line(&mut img, (lo, y), (hi, y), 2, *colour);
            for x in [lo, hi] {
                line(&mut img, (x, y - 6.0), (x, y + 6.0), 2, *colour);
            }
            if rate.ci95[1] > max {
                // An arrow head: the interval goes on beyond the axis.
                line(&mut img, (hi - 8.0, y - 6.0), (hi, y), 2, *colour);
                line(&mut img, (hi - 8.0, y + 6.0), (hi, y), 2, *colour);
            }
            let x = at(rate.rate);
            for d in -4..=4 {
                line(&mut img, (x - 4.0, y + d as f32), (x + 4.0, y + d as f32), 1, black);
            }
            let value = format!("{} ({}/{})", percent(rate.rate), rate.count, rate.of);
            text(&mut img, x0 + PANEL + 8, y as u32 - 7, &value, black);
        }
    }
    for (i, row) in rows.iter().enumerate() {
        text(&mut img, 8, 2 * ROW + i as u32 * ROW + ROW / 2 - 7, &row.label, black);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_ends_on_a_round_number() {
        assert_eq!(nice_ceiling(0.052), 0.1);
        assert!((nice_ceiling(0.0013) - 0.002).abs() < 1e-12);
        assert!((nice_ceiling(0.2) - 0.2).abs() < 1e-12);
        assert!((nice_ceiling(0.0) - 1e-4).abs() < 1e-15);
        assert_eq!(percent(0.052), "5.2%");
        assert_eq!(percent(0.00123), "0.12%");
    }

    #[test]
    fn draws_a_row_per_group_with_its_interval() {
        let rows = [
            Row { label: "everyone".into(), fnmr: Rate::new(5, 100), fmr: Rate::new(1, 1000) },
            Row { label: "gender mixed".into(), fnmr: Rate::new(0, 0), fmr: Rate::new(2, 1000) },
        ];
        let img = draw(&rows);
        assert_eq!(img.height(), 5 * ROW);
        // The FNMR interval of the first row is drawn in red across its row's middle.
        let label_width = 12 * ADVANCE + 16;
        let y = 2 * ROW + ROW / 2;
        let red = (label_width..label_width + PANEL).filter(|&x| img.get_pixel(x, y).0 == [200, 30, 30]).count();
        assert!(red > 10, "{red}");
        let no_trials_row = 2 * ROW + ROW + ROW / 2;
        let red =
            (label_width..label_width + PANEL).filter(|&x| img.get_pixel(x, no_trials_row).0 == [200, 30, 30]).count();
        assert_eq!(red, 0, "no interval without trials");
    }
}
