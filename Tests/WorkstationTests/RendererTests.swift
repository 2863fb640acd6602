import Imaging
import XCTest
@testable import Workstation

/// The text rungs of the ladder, cell by cell, and the geometry of the pane.
final class RendererTests: XCTestCase {
    let fullWindow = Window.spanning(minimum: 0, maximum: 255)

    func raster(_ img: Image, _ w: Int, _ h: Int, aspect: Double = 1, boxes: [LabelledBox] = [], draw: Bool = true,
                view: ImageViewState? = nil) throws -> PaneRaster {
        try PaneRasterizer.rasterize(img, boxes: boxes, view: view ?? ImageViewState(window: fullWindow), width: w, height: h,
                                     pixelAspect: aspect, theme: .dark, drawBoxes: draw)
    }

    func testHalfBlocksCellByCell() throws {
        // 4 x 4 greys: each cell carries the upper pixel as foreground, the lower as background.
        let px: [UInt8] = [0, 40, 80, 120,
                           160, 200, 240, 255,
                           10, 20, 30, 50,
                           100, 128, 180, 230]
        let img = try Image(width: 4, height: 4, colour: .grey, pixels: px)
        let r = try raster(img, 4, 4)
        XCTAssertEqual(r.rgb.count, 4 * 4 * 3)
        var s = Screen(width: 4, height: 2)
        HalfBlockRenderer.draw(r, into: &s, at: CellRect(x: 0, y: 0, width: 4, height: 2))
        for cy in 0..<2 { for cx in 0..<4 {
            let cell = s[cx, cy]
            XCTAssertEqual(cell.char, "▀")
            XCTAssertEqual(cell.style.fg, .index(Palette.greyIndex(Int(px[(2 * cy) * 4 + cx]))), "cell \(cx),\(cy) fg")
            XCTAssertEqual(cell.style.bg, .index(Palette.greyIndex(Int(px[(2 * cy + 1) * 4 + cx]))), "cell \(cx),\(cy) bg")
        } }
        // Exact palette points: black is 16, white 231, 128 is grey 232+12.
        XCTAssertEqual(s[0, 0].style.fg, .index(16))
        XCTAssertEqual(s[3, 0].style.bg, .index(231))
        XCTAssertEqual(s[1, 1].style.bg, .index(244))
    }

    func testHalfBlocksColour() throws {
        let px: [UInt8] = [255, 0, 0, 0, 255, 0]  // red over green, 1 x 2 RGB
        let img = try Image(width: 1, height: 2, colour: .rgb, pixels: px)
        var s = Screen(width: 1, height: 1)
        HalfBlockRenderer.draw(try raster(img, 1, 2), into: &s, at: CellRect(x: 0, y: 0, width: 1, height: 1))
        XCTAssertEqual(s[0, 0].style.fg, .index(196))
        XCTAssertEqual(s[0, 0].style.bg, .index(46))
    }

    func testAsciiCellByCell() throws {
        // One value inside each tenth of 0...255.
        let px: [UInt8] = [0, 30, 60, 90, 120,
                           140, 160, 190, 220, 250]
        let img = try Image(width: 5, height: 2, colour: .grey, pixels: px)
        var s = Screen(width: 5, height: 2)
        AsciiRenderer.draw(try raster(img, 5, 2), into: &s, at: CellRect(x: 0, y: 0, width: 5, height: 2), theme: .dark)
        XCTAssertEqual(s.row(0), " .:-=")
        XCTAssertEqual(s.row(1), "+*#%@")
        XCTAssertEqual(s[0, 0].style, Theme.dark[.text])
    }

    func testFitKeepsAspectAndCentres() throws {
        // A square image in a 40 x 10 ASCII pane whose cells are twice as tall as wide: 20 x 10 cells, centred.
        let img = try Image.filled(width: 8, height: 8, colour: .grey, bitDepth: 8, value: 255)
        let r = try raster(img, 40, 10, aspect: 0.5)
        let lit = (0..<40).filter { r.pixel($0, 5).r > 0 }
        XCTAssertEqual(lit.first, 10)
        XCTAssertEqual(lit.last, 29)
        XCTAssertEqual((0..<10).filter { r.pixel(20, $0).r > 0 }.count, 10)
    }

    func testBoxesMapToPaneAndZoom() throws {
        let img = try Fixtures.gradient(width: 64, height: 48)
        let box = LabelledBox(rect: PixelRect(x0: 16, y0: 12, x1: 32, y1: 24), label: "1 malignant", role: .malignant)
        // 128 x 96 pane: scale 2, the box lands at 32...64 x 24...48.
        let r = try raster(img, 128, 96, boxes: [box])
        XCTAssertEqual(r.boxes.first?.rect, PixelRect(x0: 32, y0: 24, x1: 64, y1: 48))
        let c = Palette.rgb(203)
        XCTAssertEqual(r.pixel(32, 30).r, UInt8(c.0))
        XCTAssertEqual(r.pixel(63, 30).g, UInt8(c.1))
        // Zoom 2 about the box's centre: the box fills half the pane around the centre.
        var v = ImageViewState(window: fullWindow)
        v.zoom = 2; v.centre = (24, 18)
        let z = try raster(img, 128, 96, boxes: [box], view: v)
        XCTAssertEqual(z.boxes.first?.rect, PixelRect(x0: 32, y0: 24, x1: 96, y1: 72))
        // Hidden boxes are not drawn.
        v.showBoxes = false
        XCTAssertTrue(try raster(img, 128, 96, boxes: [box], view: v).boxes.isEmpty)
    }

    func testSixteenBitKeepsDepthUntilTheWindow() throws {
        // 12-bit values in a 16-bit image: the window 1000...3000 maps them to 0...255.
        let img = try Image(width: 3, height: 1, colour: .grey, pixels: [UInt16(1000), 2000, 3000])
        XCTAssertEqual(img.bitDepth, 16)
        let loaded = LoadedImage(img)
        XCTAssertEqual(loaded.minimum, 1000)
        let (w, _) = loaded.preset(1)
        let r = try raster(img, 3, 1, view: ImageViewState(window: w))
        XCTAssertEqual(r.pixel(0, 0).r, 0)
        XCTAssertEqual(r.pixel(1, 0).r, 128)
        XCTAssertEqual(r.pixel(2, 0).r, 255)
    }
}
