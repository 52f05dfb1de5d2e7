//! Pictures the CLI writes: detections drawn on a photo, and ROC/DET curves.

use facecheck::Face;
use image::{Rgb, RgbImage};

fn put(img: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, colour);
    }
}

/// Draws a straight line, `thickness` pixels wide.
pub(crate) fn line(img: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), thickness: i64, colour: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as i64;
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let (x, y) = ((x0 + t * (x1 - x0)).round() as i64, (y0 + t * (y1 - y0)).round() as i64);
        for dy in 0..thickness {
            for dx in 0..thickness {
                put(img, x + dx - thickness / 2, y + dy - thickness / 2, colour);
            }
        }
    }
}

/// Draws each face's box (green) and landmarks (red dots) onto the image.
pub fn faces(img: &mut RgbImage, faces: &[Face]) {
    let thickness = (img.width().max(img.height()) / 300).max(2) as i64;
    let green = Rgb([0, 230, 0]);
    for f in faces {
        let b = f.bbox;
        let corners = [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2), (b.x1, b.y1)];
        for w in corners.windows(2) {
            line(img, w[0], w[1], thickness, green);
        }
        for &(x, y) in &f.landmarks {
            line(img, (x, y), (x, y), thickness * 2, Rgb([230, 0, 0]));
        }
    }
}

/// Plots `(x, y)` curves with both axes in `0..=1` into a 480x480 image with a light grid every 0.1.
pub fn curve(points: &[(f64, f64)]) -> RgbImage {
    const SIDE: u32 = 480;
    const MARGIN: f32 = 30.0;
    let mut img = RgbImage::from_pixel(SIDE, SIDE, Rgb([255, 255, 255]));
    let span = SIDE as f32 - 2.0 * MARGIN;
    let at = |x: f64, y: f64| (MARGIN + x as f32 * span, SIDE as f32 - MARGIN - y as f32 * span);
    for i in 0..=10 {
        let v = f64::from(i) / 10.0;
        let grey = if i == 0 { Rgb([0, 0, 0]) } else { Rgb([225, 225, 225]) };
        line(&mut img, at(v, 0.0), at(v, 1.0), 1, grey);
        line(&mut img, at(0.0, v), at(1.0, v), 1, grey);
    }
    line(&mut img, at(0.0, 0.0), at(1.0, 1.0), 1, Rgb([200, 200, 255]));
    for w in points.windows(2) {
        line(&mut img, at(w[0].0, w[0].1), at(w[1].0, w[1].1), 2, Rgb([200, 30, 30]));
    }
    img
}
