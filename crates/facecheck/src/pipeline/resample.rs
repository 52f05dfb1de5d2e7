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
    fn halving_averages_two_by_two_blocks_and_outside_is_black() {
        let src = RgbImage::from_fn(4, 4, |x, y| image::Rgb([((x + y) % 2 * 200) as u8, 0, 0]));
        let out = sample_affine(&src, &Affine([2.0, 0.0, 0.0, 0.0, 2.0, 0.0]), 3, 2);
        assert_eq!(out.get_pixel(0, 0).0, [100, 0, 0]);
        assert_eq!(out.get_pixel(1, 1).0, [100, 0, 0]);
        assert_eq!(out.get_pixel(2, 0).0, [0, 0, 0], "columns past the source are black");
    }
}
