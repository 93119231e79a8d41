#!/usr/bin/env python3
"""Looks at what a browser produced, for the block-page system test.

  pages.py text FILE            prints the visible text of an HTML document (no <style>,
                                <script> or <head>), one run of text per line
  pages.py png FILE W H         checks FILE is a W×H PNG whose pixels are not all one colour;
                                prints the number of distinct byte values in its image data

Standard library only.
"""
import html.parser
import struct
import sys
import zlib


class Text(html.parser.HTMLParser):
    HIDDEN = {"style", "script", "head", "title"}

    def __init__(self):
        super().__init__()
        self.hidden = 0
        self.out = []

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.out.append(" ".join(data.split()))


def png(path, width, height):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    if size != (width, height):
        sys.exit(f"{path}: {size} instead of {(width, height)}")
    distinct = len(set(zlib.decompress(idat)))
    # Filter-type bytes and a flat background give a handful of values; text gives many more.
    if distinct < 16:
        sys.exit(f"{path}: looks blank ({distinct} distinct byte values)")
    print(distinct)


def main(argv):
    if argv[1] == "text":
        p = Text()
        with open(argv[2], encoding="utf-8") as f:
            p.feed(f.read())
        print("\n".join(p.out))
    elif argv[1] == "png":
        png(argv[2], int(argv[3]), int(argv[4]))
    else:
        sys.exit(f"unknown mode {argv[1]}")


if __name__ == "__main__":
    main(sys.argv)
