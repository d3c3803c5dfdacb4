#!/usr/bin/env python3
"""Peer judge: the same attack list against `invisible-watermark` (PyPI, method dwtDct).

Usage:
    pip install --no-deps invisible-watermark PyWavelets opencv-python-headless Pillow numpy
    WM_DUMP=/tmp/wm_pictures cargo bench -p veilmark-shared --bench watermark_attacks
    python3 tests/peers/invisible_watermark_peer.py /tmp/wm_pictures [trials] [ours.json]

With ours.json (the Rust benchmark's WM_RESULTS) it ends with a side-by-side table.
`cargo xtask bench watermark` runs both.

Embeds a random 48-bit payload with imwatermark's dwtDct (its default, the method its README
recommends for speed) and dwtDctSvd, applies the issue-6 attacks with Pillow (same parameters as
shared/tests/common/mod.rs; WebP here is *lossy* quality 80), decodes, and prints exact-payload
recovery and bit accuracy per attack, plus PSNR of the embedding. imwatermark's rivaGan method
needs torch and is not measured. The pictures are the ones the Rust benchmark wrote, so the two
tables are on the same images.
"""
import io
import math
import os
import random
import sys
import types

import numpy as np
from PIL import Image, ImageFilter

# imwatermark imports its torch/onnx-based rivaGan at import time; dwtDct does not need it.
for name in ("torch", "onnx", "onnxruntime"):
    sys.modules.setdefault(name, types.ModuleType(name))
from imwatermark import WatermarkDecoder, WatermarkEncoder  # noqa: E402

BITS = 48


def resize(img, s, cubic):
    w, h = img.size
    return img.resize((max(1, round(w * s)), max(1, round(h * s))),
                      Image.BICUBIC if cubic else Image.BILINEAR)


def jpeg(img, q):
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def webp(img, q=80):
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def crop(img, frac, rng):
    w, h = img.size
    side = math.sqrt(frac)
    cw, ch = round(w * side), round(h * side)
    x, y = int(rng.random() * (w - cw)), int(rng.random() * (h - ch))
    return img.crop((x, y, x + cw, y + ch))


def border(img, b=40, colour=(128, 128, 128)):
    out = Image.new("RGB", (img.width + 2 * b, img.height + 2 * b), colour)
    out.paste(img, (b, b))
    return out


def browser(img):
    top, side = 86, 6
    out = Image.new("RGB", (img.width + 2 * side, img.height + top + side), (222, 225, 230))
    out.paste(Image.new("RGB", (210, 31), (255, 255, 255)), (120, 9))
    out.paste(Image.new("RGB", (max(1, img.width - 180), 30), (241, 243, 244)), (91, 48))
    out.paste(img, (side, top))
    return out


def curve(img, f):
    lut = [min(255, max(0, round(f(v)))) for v in range(256)] * 3
    return img.point(lut)


def rotate(img, deg):
    return img.rotate(-deg, resample=Image.BILINEAR, fillcolor=(255, 255, 255))


def noise(img, sigma, rng):
    a = np.asarray(img, dtype=np.float32)
    n = np.random.default_rng(rng.randrange(1 << 30)).normal(0, sigma, a.shape)
    return Image.fromarray(np.clip(np.round(a + n), 0, 255).astype(np.uint8))


def attacks():
    out = [("none", lambda i, r: i)]
    for s in (0.5, 0.75, 1.25, 1.5):
        out.append((f"resize {s}x bilinear", lambda i, r, s=s: resize(i, s, False)))
        out.append((f"resize {s}x bicubic", lambda i, r, s=s: resize(i, s, True)))
    for q in (90, 70, 50):
        out.append((f"JPEG q{q}", lambda i, r, q=q: jpeg(i, q)))
    out.append(("WebP (lossy q80)", lambda i, r: webp(i)))
    for f in (0.9, 0.75, 0.6):
        out.append((f"crop {round(f * 100)}% area", lambda i, r, f=f: crop(i, f, r)))
    out.append(("40px grey border", lambda i, r: border(i)))
    out.append(("fake browser frame", lambda i, r: browser(i)))
    for g in (0.8, 1.2):
        out.append((f"gamma {g}", lambda i, r, g=g: curve(i, lambda v: 255 * (v / 255) ** g)))
    for b in (0.1, -0.1):
        out.append((f"brightness {b:+.0%}", lambda i, r, b=b: curve(i, lambda v: v * (1 + b))))
    for c in (0.15, -0.15):
        out.append((f"contrast {c:+.0%}",
                    lambda i, r, c=c: curve(i, lambda v: 128 + (v - 128) * (1 + c))))
    for d in (1.0, -1.0, 3.0, -3.0):
        out.append((f"rotate {d:+g}°", lambda i, r, d=d: rotate(i, d)))
    out.append(("gaussian blur σ=1", lambda i, r: i.filter(ImageFilter.GaussianBlur(1))))
    out.append(("noise σ=3", lambda i, r: noise(i, 3.0, r)))
    out.append(("0.75x + crop 80% + JPEG 70",
                lambda i, r: jpeg(crop(resize(i, 0.75, False), 0.8, r), 70)))
    return out


def to_bgr(img):
    return np.asarray(img.convert("RGB"))[:, :, ::-1].copy()


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255 * 255 / mse)


def run_method(method, pictures, trials, rng):
    """Prints one method's tables; returns {attack: (exact %, bit accuracy %)}."""
    print(f"# invisible-watermark 0.2 ({method}) peer, {trials} trials per picture and attack\n")
    print("| picture | PSNR dB |\n|---|---|")
    for name, p in pictures:
        enc = WatermarkEncoder()
        enc.set_watermark("bits", [rng.randrange(2) for _ in range(BITS)])
        marked = enc.encode(to_bgr(p), method)
        print(f"| {name} | {psnr(to_bgr(p), marked):.2f} |")
    print()
    names = [n for n, _ in pictures]
    print("| attack | " + " | ".join(names) + " | all: exact | all: bit accuracy |")
    print("|---|" + "---|" * len(names) + "---|---|")
    summary = {}
    for label, attack in attacks():
        cells, exact, total, bits_ok = [], 0, 0, 0
        for _, p in pictures:
            ok = 0
            for _ in range(trials):
                payload = [rng.randrange(2) for _ in range(BITS)]
                enc = WatermarkEncoder()
                enc.set_watermark("bits", payload)
                marked = Image.fromarray(enc.encode(to_bgr(p), method)[:, :, ::-1])
                attacked = attack(marked, rng)
                try:
                    got = WatermarkDecoder("bits", BITS).decode(to_bgr(attacked), method)
                    got = [int(bool(b)) for b in got]
                except Exception:  # imwatermark raises on images it cannot handle
                    got = [1 - b for b in payload[:BITS // 2]] + payload[BITS // 2:]
                right = sum(int(a == b) for a, b in zip(payload, got))
                ok += right == BITS
                bits_ok += right
                total += 1
            exact += ok
            cells.append(f"{ok}/{trials}")
        summary[label] = (100 * exact / total, 100 * bits_ok / (BITS * total))
        print(f"| {label} | " + " | ".join(cells)
              + f" | {summary[label][0]:.1f} % | {summary[label][1]:.1f} % |")
    print()
    return summary


def main():
    folder = sys.argv[1]
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    ours = {}
    if len(sys.argv) > 3:
        import json
        with open(sys.argv[3]) as f:
            ours = json.load(f)
    pictures = [(os.path.splitext(n)[0], Image.open(os.path.join(folder, n)).convert("RGB"))
                for n in sorted(os.listdir(folder)) if n.endswith(".png")]
    rng = random.Random(2026)
    methods = ["dwtDct", "dwtDctSvd"]
    peers = {m: run_method(m, pictures, trials, rng) for m in methods}
    if ours:
        print("# Side by side: exact-payload recovery (bit accuracy), all pictures\n")
        print("| attack | Veilmark | " + " | ".join(f"invisible-watermark {m}" for m in methods) + " |")
        print("|---|---|" + "---|" * len(methods))
        labels = list(ours) + [a for a in peers[methods[0]] if a not in ours]
        for label in labels:
            cell = lambda r: f"{r[0]:.1f} % ({r[1]:.1f} %)" if r else "–"
            print(f"| {label} | {cell(ours.get(label))} | "
                  + " | ".join(cell(peers[m].get(label)) for m in methods) + " |")


if __name__ == "__main__":
    main()
