// libFuzzer entry for the safetensors reader (Engine/SafeTensors.swift): the 8-byte length, the
// JSON header, every entry's dtype, shape and offsets against the mapped file, then every tensor
// read (as Float, and as integers where integer) and the non-finite check the models run at load.
// Any input must come back as tensors or an EngineError naming the file.
import Engine
import Foundation

let safetensorsScratch = fuzzScratchPath("input.safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard fuzzWrite(data, size, to: safetensorsScratch) else { return 0 }
    do {
        let file = try SafeTensors(path: safetensorsScratch)
        for name in file.names {
            let shape = try file.shape(name)
            let t = try file.tensor(name)
            guard t.shape == shape, t.count == shape.reduce(1, *) else {
                fuzzViolation("tensor \(name): shape \(t.shape), \(t.count) values, header says \(shape)")
            }
            var sum: Float = 0
            for i in 0..<t.count { sum += t.pointer[i] }   // touch every value (ASan checks the reads)
            _ = sum
            _ = try? file.integers(name)
        }
        do { try file.checkFinite() } catch { _ = "\(error)" }
    } catch {
        guard !"\(error)".isEmpty else { fuzzViolation("an error without a message") }
    }
    return 0
}
