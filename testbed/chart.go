// SPDX-License-Identifier: Apache-2.0

package testbed

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
)

// WriteChart draws the runs' events per CPU-second as horizontal bars with
// their names and values, in a PNG a person can look at (no font package is
// available here: text is drawn with the 5×7 glyphs below).
func WriteChart(file, title string, runs []Run) error {
	const scale, barH, gap, left, top = 2, 26, 14, 16, 50
	maxV := 0.0
	for _, r := range runs {
		if r.PerCPUSecond > maxV {
			maxV = r.PerCPUSecond
		}
	}
	w, h := 1100, top+len(runs)*(barH+gap+8*scale+4)+20
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	text(img, left, 16, scale, title, color.RGBA{0, 0, 0, 255})
	colors := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {127, 127, 127, 255}, {44, 160, 44, 255}}
	y := top
	for i, r := range runs {
		text(img, left, y, scale, r.Pipeline, color.RGBA{40, 40, 40, 255})
		y += 8*scale + 4
		bw := int(float64(w-left-200) * r.PerCPUSecond / maxV)
		fill(img, image.Rect(left, y, left+bw, y+barH), colors[i%len(colors)])
		text(img, left+bw+8, y+(barH-7*scale)/2, scale, fmt.Sprintf("%.0f", r.PerCPUSecond), color.RGBA{0, 0, 0, 255})
		y += barH + gap
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// text draws s (upper-cased; characters without a glyph are blanks).
func text(img *image.RGBA, x, y, scale int, s string, c color.RGBA) {
	for _, ch := range strings.ToUpper(s) {
		g, ok := glyphs[ch]
		if ok {
			for row, bits := range g {
				for col := 0; col < 5; col++ {
					if bits&(1<<(4-col)) != 0 {
						fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

// glyphs are 5×7 bitmaps, one byte per row, high bit left.
var glyphs = map[rune][7]byte{
	'0': {14, 17, 19, 21, 25, 17, 14}, '1': {4, 12, 4, 4, 4, 4, 14}, '2': {14, 17, 1, 2, 4, 8, 31},
	'3': {31, 2, 4, 2, 1, 17, 14}, '4': {2, 6, 10, 18, 31, 2, 2}, '5': {31, 16, 30, 1, 1, 17, 14},
	'6': {6, 8, 16, 30, 17, 17, 14}, '7': {31, 1, 2, 4, 8, 8, 8}, '8': {14, 17, 17, 14, 17, 17, 14},
	'9': {14, 17, 17, 15, 1, 2, 12},
	'A': {14, 17, 17, 31, 17, 17, 17}, 'B': {30, 17, 17, 30, 17, 17, 30}, 'C': {14, 17, 16, 16, 16, 17, 14},
	'D': {28, 18, 17, 17, 17, 18, 28}, 'E': {31, 16, 16, 30, 16, 16, 31}, 'F': {31, 16, 16, 30, 16, 16, 16},
	'G': {14, 17, 16, 23, 17, 17, 15}, 'H': {17, 17, 17, 31, 17, 17, 17}, 'I': {14, 4, 4, 4, 4, 4, 14},
	'J': {7, 2, 2, 2, 2, 18, 12}, 'K': {17, 18, 20, 24, 20, 18, 17}, 'L': {16, 16, 16, 16, 16, 16, 31},
	'M': {17, 27, 21, 21, 17, 17, 17}, 'N': {17, 17, 25, 21, 19, 17, 17}, 'O': {14, 17, 17, 17, 17, 17, 14},
	'P': {30, 17, 17, 30, 16, 16, 16}, 'Q': {14, 17, 17, 17, 21, 18, 13}, 'R': {30, 17, 17, 30, 20, 18, 17},
	'S': {15, 16, 16, 14, 1, 1, 30}, 'T': {31, 4, 4, 4, 4, 4, 4}, 'U': {17, 17, 17, 17, 17, 17, 14},
	'V': {17, 17, 17, 17, 17, 10, 4}, 'W': {17, 17, 17, 21, 21, 21, 10}, 'X': {17, 17, 10, 4, 10, 17, 17},
	'Y': {17, 17, 10, 4, 4, 4, 4}, 'Z': {31, 1, 2, 4, 8, 16, 31},
	'.': {0, 0, 0, 0, 0, 12, 12}, ',': {0, 0, 0, 0, 12, 4, 8}, ':': {0, 12, 12, 0, 12, 12, 0},
	'/': {1, 1, 2, 4, 8, 16, 16}, '+': {0, 4, 4, 31, 4, 4, 0}, '-': {0, 0, 0, 31, 0, 0, 0},
	'(': {2, 4, 8, 8, 8, 4, 2}, ')': {8, 4, 2, 2, 2, 4, 8}, '_': {0, 0, 0, 0, 0, 0, 31},
	'\'': {4, 4, 8, 0, 0, 0, 0}, '=': {0, 0, 31, 0, 31, 0, 0}, '%': {24, 25, 2, 4, 8, 19, 3},
}
