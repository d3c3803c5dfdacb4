#!/usr/bin/env python3
"""Regenerate the PDQ test vectors from scikit-image's sample photographs.

Each case is one file `<name>.txt` naming a committed PNG (`pixels:`), a lossless transform
applied to its decoded pixels (`transform:`), and the hash and quality that Meta's reference C++
computes on exactly those pixels, through the `pdqhash` Python package (`expect-pdq:`,
`expect-quality:`), and for untransformed cases the eight dihedral hashes the reference derives
from one DCT (`expect-dihedral:`). `crawler/tests/pdq_vectors.rs` decodes the PNG with the `image` crate,
applies the same transform, hashes with `veilmark_shared::hash::pdq` and requires a Hamming
distance of at most `tolerance:` bits.

    pip install scikit-image pdqhash pillow numpy
    python3 docs/vectors/pdq/generate.py

Sources and licences are recorded in LICENSES.md next to this script.
"""
import os
import numpy as np
import pdqhash
from PIL import Image
import skimage.data as data

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = {
    # name: (loader, licence note)
    "astronaut": ("astronaut", "NASA photograph of Eileen Collins, public domain"),
    "camera": ("camera", "CC0, Lav Varshney"),
    "coffee": ("coffee", "CC0, Rachel Michetti"),
    "chelsea": ("chelsea", "CC0, Stefan van der Walt"),
    "rocket": ("rocket", "SpaceX, released into the public domain"),
    "hubble": ("hubble_deep_field", "NASA/HubbleSite, public domain"),
    "coins": ("coins", "Brooklyn Museum collection, no known copyright restrictions"),
    "brick": ("brick", "CC0Textures Bricks25, CC0"),
    "gravel": ("gravel", "CC0Textures Gravel04, CC0"),
    "retina": ("retina", "Mikael Haggstrom, CC0 1.0"),
    "ihc": ("immunohistochemistry", "CMMI, no known copyright restrictions"),
}
TRANSFORMS = {
    "identity": lambda a: a,
    "flip-x": lambda a: a[:, ::-1],
    "flip-y": lambda a: a[::-1, :],
    "rotate-90": lambda a: np.rot90(a, 1),  # counter-clockwise
    "rotate-180": lambda a: np.rot90(a, 2),
    "transpose": lambda a: np.transpose(a, (1, 0, 2)),
}


def hex_of(vector):
    bits = "".join(str(int(b)) for b in vector)  # bit 255 first
    return "%064x" % int(bits, 2)


def main():
    for name, (loader, licence) in SOURCES.items():
        img = getattr(data, loader)()
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        pil = Image.fromarray(img)
        pil = pil.convert("RGB") if pil.mode not in ("L", "RGB") else pil
        pil.thumbnail((192, 192), Image.LANCZOS)
        png = os.path.join(HERE, f"{name}.png")
        pil.save(png, optimize=True)
        rgb = np.asarray(Image.open(png).convert("RGB"))
        transforms = ["identity"] + (list(TRANSFORMS)[1:] if name in ("astronaut", "coffee") else [])
        for t in transforms:
            arr = np.ascontiguousarray(TRANSFORMS[t](rgb))
            vec, quality = pdqhash.compute(arr)
            dihedral = None
            if t == "identity":
                vecs, _ = pdqhash.compute_dihedral(arr)
                dihedral = " ".join(hex_of(v) for v in vecs)
            case = name if t == "identity" else f"{name}_{t}"
            with open(os.path.join(HERE, f"{case}.txt"), "w") as f:
                f.write(f"comment: skimage.data.{loader}() thumbnailed to 192 px, {t}; {licence}\n")
                f.write(f"pixels: {name}.png\n")
                f.write(f"transform: {t}\n")
                f.write(f"expect-pdq: {hex_of(vec)}\n")
                f.write(f"expect-quality: {quality}\n")
                if dihedral:
                    # orig rot90 rot180 rot270 flipx flipy flipplus1 flipminus1, from the DCT.
                    f.write(f"expect-dihedral: {dihedral}\n")
                f.write("tolerance: 10\n")
            print(case, hex_of(vec), quality)


if __name__ == "__main__":
    main()
