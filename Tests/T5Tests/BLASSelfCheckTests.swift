import XCTest
@testable import T5

final class BLASSelfCheckTests: XCTestCase {
    func testOpenBLASPassesTheStartupCheck() throws {
        let worst = try BLASSelfCheck.run()
        print("BLAS self-check worst relative error \(worst) on \(BLASIdentity.current().description)")
        XCTAssertLessThan(worst, 1e-5)
    }

    func testRelativeBucketsMatchHuggingFaceBoundaries() {
        // Values from transformers' _relative_position_bucket with 32 buckets, max distance 128.
        let bidirectional: [(Int, Int)] = [(0, 0), (1, 17), (-1, 1), (7, 23), (-8, 8), (-12, 9), (-16, 10),
                                           (-127, 15), (-500, 15), (128, 31), (20, 26)]
        for (relative, bucket) in bidirectional {
            XCTAssertEqual(RelativePositionBias.bucket(relative: relative, bidirectional: true, numBuckets: 32, maxDistance: 128),
                           bucket, "bidirectional \(relative)")
        }
        let causal: [(Int, Int)] = [(0, 0), (5, 0), (-1, 1), (-15, 15), (-16, 16), (-32, 21), (-64, 26), (-200, 31)]
        for (relative, bucket) in causal {
            XCTAssertEqual(RelativePositionBias.bucket(relative: relative, bidirectional: false, numBuckets: 32, maxDistance: 128),
                           bucket, "causal \(relative)")
        }
    }
}
