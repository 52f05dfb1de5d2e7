//! The one resampler used for letterboxing, alignment and liveness crops (`scripts/PIPELINE.md`).

use image::RgbImage;

/// A 2x3 affine map from output continuous coordinates to source continuous coordinates:
/// `x_src = m[0] * x + m[1] * y + m[2]`, `y_src = m[3] * x + m[4] * y + m[5]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [f32; 6]);

impl Affine {
    /// Applies the map to a point.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    /// Source pixels per output pixel (square root of the linear part's determinant).
    fn scale(&self) -> f32 {
        let m = &self.0;
        (m[0] * m[4] - m[1] * m[3]).abs().sqrt()
    }
}

/// Renders `out_w x out_h` pixels, each the mean of `n x n` bilinear samples of `src` taken through `map`, with
/// `n` chosen from the map's scale so that downscaling does not alias. Samples outside the source are black.
pub fn sample_affine(src: &RgbImage, map: &Affine, out_w: u32, out_h: u32) -> RgbImage {
    let n = (map.scale() - 1e-3).ceil().clamp(1.0, 8.0) as u32;
    if map.0[1] == 0.0 && map.0[3] == 0.0 {
        sample_axis_aligned(src, map, n, out_w, out_h)
    } else {
        sample_general(src, map, n, out_w, out_h)
    }
}

/// [`sample_affine`] for any map: every sample through [`Affine::apply`].
fn sample_general(src: &RgbImage, map: &Affine, n: u32, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = (src.width() as f32, src.height() as f32);
    let (max_x, max_y) = (src.width() as i64 - 1, src.height() as i64 - 1);
    let raw = src.as_raw();
    let stride = src.width() as usize * 3;
    let texel = |xi: i64, yi: i64| -> usize { yi.clamp(0, max_y) as usize * stride + xi.clamp(0, max_x) as usize * 3 };
    let inv_n = 1.0 / n as f32;
    let mut out = RgbImage::new(out_w, out_h);
    for (u, v, pixel) in out.enumerate_pixels_mut() {
        let mut sum = [0f32; 3];
        for b in 0..n {
            for a in 0..n {
                let ox = u as f32 + (a as f32 + 0.5) * inv_n;
                let oy = v as f32 + (b as f32 + 0.5) * inv_n;
                let (x, y) = map.apply(ox, oy);
                if !(0.0..=w).contains(&x) || !(0.0..=h).contains(&y) {
                    continue;
                }
                let (sx, sy) = (x - 0.5, y - 0.5);
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                let (p00, p10, p01, p11) = (texel(x0, y0), texel(x0 + 1, y0), texel(x0, y0 + 1), texel(x0 + 1, y0 + 1));
                for (c, s) in sum.iter_mut().enumerate() {
                    let top = raw[p00 + c] as f32 * (1.0 - fx) + raw[p10 + c] as f32 * fx;
                    let bottom = raw[p01 + c] as f32 * (1.0 - fx) + raw[p11 + c] as f32 * fx;
                    *s += top * (1.0 - fy) + bottom * fy;
                }
            }
        }
        let count = (n * n) as f32;
        pixel.0 = sum.map(|s| (s / count + 0.5).floor().clamp(0.0, 255.0) as u8);
    }
    out
}

/// Where one sample falls along one axis: the byte offsets of the two texels it blends (clamped to the image), the
/// weight of the second, and whether the sample lies inside the image along this axis.
#[derive(Clone, Copy)]
struct Tap {
    first: usize,
    second: usize,
    weight: f32,
    inside: bool,
}

/// The taps of `count` output pixels along one axis, `n` samples each: `coordinate` maps an output coordinate to
/// the source's, `limit` is the source's size along the axis and `step` the bytes from one texel to the next.
fn taps(count: u32, n: u32, coordinate: impl Fn(f32) -> f32, limit: u32, step: usize) -> Vec<Tap> {
    let inv_n = 1.0 / n as f32;
    let max = limit as i64 - 1;
    let mut taps = Vec::with_capacity((count * n) as usize);
    for o in 0..count {
        for k in 0..n {
            // The same operations, in the same order, as `sample_general`: the pixels come out identical.
            let x = coordinate(o as f32 + (k as f32 + 0.5) * inv_n);
            let inside = (0.0..=limit as f32).contains(&x);
            let s = x - 0.5;
            let x0 = s.floor();
            let weight = s - x0;
            let x0 = if inside { x0 as i64 } else { 0 };
            let at = |i: i64| i.clamp(0, max) as usize * step;
            taps.push(Tap { first: at(x0), second: at(x0 + 1), weight, inside });
        }
    }
    taps
}

/// [`sample_affine`] for a map without rotation or shear (the letterbox, the liveness crops): each sample's column
/// and row are worked out once per output column and row, not once per sample. The arithmetic on the pixels, and
/// its order, are those of [`sample_general`], so the result is the same to the bit (a test checks it).
fn sample_axis_aligned(src: &RgbImage, map: &Affine, n: u32, out_w: u32, out_h: u32) -> RgbImage {
    let stride = src.width() as usize * 3;
    // `map.apply` with the other coordinate 0: the map multiplies it by 0, so it adds exactly nothing.
    let columns = taps(out_w, n, |x| map.apply(x, 0.0).0, src.width(), 3);
    let rows = taps(out_h, n, |y| map.apply(0.0, y).1, src.height(), stride);
    let raw = src.as_raw();
    let count = (n * n) as f32;
    let n = n as usize;
    let mut out = RgbImage::new(out_w, out_h);
    for (u, v, pixel) in out.enumerate_pixels_mut() {
        let (u, v) = (u as usize, v as usize);
        let mut sum = [0f32; 3];
        for row in &rows[v * n..(v + 1) * n] {
            for column in &columns[u * n..(u + 1) * n] {
                if !column.inside || !row.inside {
                    continue;
                }
                let (fx, fy) = (column.weight, row.weight);
                // One bounds check per texel, not per channel.
                let texel = |at: usize| -> &[u8; 3] { raw[at..at + 3].try_into().expect("3 bytes") };
                let (t00, t10) = (texel(row.first + column.first), texel(row.first + column.second));
                let (t01, t11) = (texel(row.second + column.first), texel(row.second + column.second));
                for (c, s) in sum.iter_mut().enumerate() {
                    let top = t00[c] as f32 * (1.0 - fx) + t10[c] as f32 * fx;
                    let bottom = t01[c] as f32 * (1.0 - fx) + t11[c] as f32 * fx;
                    *s += top * (1.0 - fy) + bottom * fy;
                }
            }
        }
        pixel.0 = sum.map(|s| (s / count + 0.5).floor().clamp(0.0, 255.0) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_map_reproduces_the_image() {
        let src = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 200]));
        let out = sample_affine(&src, &Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), 7, 5);
        assert_eq!(out, src);
    }

    #[test]
    fn axis_aligned_maps_give_the_general_resamplers_pixels_to_the_bit() {
        let src = RgbImage::from_fn(97, 61, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * y % 251) as u8, ((x ^ y) * 5) as u8])
        });
        // Letterboxes (up and down, past the source: black), liveness-like crops, offsets at and beyond the edges.
        let maps = [
            [97.0 / 320.0, 0.0, 0.0, 0.0, 97.0 / 320.0, 0.0],
            [0.31, 0.0, 0.0, 0.0, 0.31, 0.0],
            [3.7, 0.0, 0.0, 0.0, 3.7, 0.0],
            [1.13, 0.0, 12.25, 0.0, 0.71, 3.5],
            [0.9, 0.0, -4.0, 0.0, 1.9, -7.3],
            [7.9, 0.0, 33.3, 0.0, 5.2, 40.1],
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        ];
        for m in maps {
            let map = Affine(m);
            let n = (map.scale() - 1e-3).ceil().clamp(1.0, 8.0) as u32;
            for (w, h) in [(80, 80), (33, 47)] {
                assert_eq!(sample_axis_aligned(&src, &map, n, w, h), sample_general(&src, &map, n, w, h), "{m:?}");
            }
        }
    }

    #[test]
    fn halving_averages_two_by_two_blocks_and_outside_is_black() {
        let src = RgbImage::from_fn(4, 4, |x, y| image::Rgb([((x + y) % 2 * 200) as u8, 0, 0]));
        let out = sample_affine(&src, &Affine([2.0, 0.0, 0.0, 0.0, 2.0, 0.0]), 3, 2);
        assert_eq!(out.get_pixel(0, 0).0, [100, 0, 0]);
        assert_eq!(out.get_pixel(1, 1).0, [100, 0, 0]);
        assert_eq!(out.get_pixel(2, 0).0, [0, 0, 0], "columns past the source are black");
    }
}
