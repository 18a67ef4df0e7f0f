"""Replaces one tensor of a GGUF file with other bytes of another type (Python standard library
only, so that the CTest fixture make-variants runs on a clean machine).

The engine references for the IQ types natter cannot quantize to (tests/reference/engine,
"splice") were made by llama.cpp on a file whose tensors are all natter-reproducible (IQ4_NL)
but one, made by llama-quantize in the low type; that tensor's bytes are committed, and
splice() rebuilds the file's tensors from natter's IQ4_NL copy and those bytes.
"""
import struct

# GGUF value types -> struct format (8: string, 9: array are handled apart).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
# ggml type number -> (block elements, block bytes) for the types these files hold.
TYPE_SIZES = {0: (1, 4), 1: (1, 2), 20: (32, 18), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50),
              21: (256, 110), 22: (256, 82), 23: (256, 136), 29: (256, 56), 34: (256, 54), 35: (256, 66)}
TYPE_NUMBERS = {"IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ4_NL": 20, "IQ3_S": 21, "IQ2_S": 22,
                "IQ4_XS": 23, "IQ1_M": 29, "TQ1_0": 34, "TQ2_0": 35}


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value

    def string(self):
        n = self.take("Q")
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def value(self, vtype):
        if vtype == 8:
            return self.string()
        if vtype == 9:
            item_type, n = self.take("I"), self.take("Q")
            return [self.value(item_type) for _ in range(n)]
        return self.take(_SCALARS[vtype])


def _nbytes(ggml_type, shape):
    block, size = TYPE_SIZES[ggml_type]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def read(data):
    """(kv bytes, alignment, n_kv, tensors: [name, shape, type, bytes]) of a GGUF file's contents."""
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    r.pos = 4
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    kv_start = r.pos
    alignment = 32
    for _ in range(n_kv):
        key = r.string()
        value = r.value(r.take("I"))
        if key == "general.alignment":
            alignment = value
    kv = data[kv_start:r.pos]
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        shape = [r.take("Q") for _ in range(r.take("I"))]
        infos.append((name, shape, r.take("I"), r.take("Q")))
    base = (r.pos + alignment - 1) // alignment * alignment
    tensors = [[name, shape, t, data[base + off:base + off + _nbytes(t, shape)]] for name, shape, t, off in infos]
    return version, kv, alignment, n_kv, tensors


def write(version, kv, alignment, n_kv, tensors):
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), n_kv) + kv)
    offset = 0
    for name, shape, t, blob in tensors:
        encoded = name.encode()
        out += struct.pack("<Q", len(encoded)) + encoded + struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in shape) + struct.pack("<IQ", t, offset)
        offset += (len(blob) + alignment - 1) // alignment * alignment
    out += bytes(-len(out) % alignment)
    for _, _, _, blob in tensors:
        out += blob + bytes(-len(blob) % alignment)
    return bytes(out)


def splice(src_path, dst_path, tensor, type_name, blob):
    """dst = src with `tensor` replaced by `blob`, stored as `type_name`."""
    with open(src_path, "rb") as f:
        version, kv, alignment, n_kv, tensors = read(f.read())
    t = TYPE_NUMBERS[type_name]
    for entry in tensors:
        if entry[0] == tensor:
            if _nbytes(t, entry[1]) != len(blob):
                raise ValueError(f"{tensor}: {len(blob)} bytes, but {type_name} of shape {entry[1]} takes "
                                 f"{_nbytes(t, entry[1])}")
            entry[2], entry[3] = t, blob
            break
    else:
        raise ValueError(f"{src_path} has no tensor {tensor}")
    with open(dst_path, "wb") as f:
        f.write(write(version, kv, alignment, n_kv, tensors))


def tensor_bytes(path):
    """{tensor name: bytes} of a GGUF file."""
    with open(path, "rb") as f:
        return {name: blob for name, _, _, blob in read(f.read())[4]}
