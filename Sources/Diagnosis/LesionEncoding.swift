import Engine
import Foundation
import Imaging
import Models

/// What the classifier reads of a radiograph (docs/method.md section 3), in one place for the
/// diagnosis, `tumorboard detect` and `tumorboard eval`: the crop around a box (the top detection;
/// the whole image when nil) and the lesion encoder's last feature map of it.
public struct LesionEncoding: Sendable {
    /// The crop's centre and side, in letterbox pixels.
    public let crop: (cx: Float, cy: Float, side: Float)
    /// The lesion encoder's last feature map [1, C, h, w] (what Grad-CAM reads).
    public let featureMap: Tensor
    /// Its global average: the image feature the fusion head reads.
    public let feature: Tensor
    /// The lesion encoder's own head on `feature` (uncalibrated).
    public let logits: [Float]
}

extension ModelSet {
    /// The crop around `box` (the whole image when nil), encoded.
    public func encodeLesion(_ lb: Letterbox, box: Detection?) throws -> LesionEncoding {
        let cp = Preprocessing.cropParameters(box: box.map { ($0.x0, $0.y0, $0.x1, $0.y1) })
        let crop = try Preprocessing.lesionCrop(lb, cx: cp.cx, cy: cp.cy, side: cp.side)
        let map = try lesionEncoder.featureMap(crop)
        let feature = try Ops.globalAvgPool(map)
        return LesionEncoding(crop: cp, featureMap: map, feature: feature, logits: try lesionHead(feature).scalars)
    }
}
