#!/usr/bin/env python3
"""Static checks of an Android JNI library (scripts/check-android-so.sh runs this).

    check_so.py LIB.so SYMBOLS_DIR API REPO [--stripped] [--testing]
    check_so.py --compare-stubs SYMBOLS_DIR USERLAND versioned|unversioned

Reads the ELF file itself (no readelf output to parse) and checks what makes a library load on every arm64 phone
from API level API on:
- ELF64 little-endian, AArch64, a shared object with SONAME libfacecheck_jni.so, no RPATH/RUNPATH;
- NEEDED: only bionic's public system libraries (libc, libm, libdl, liblog);
- every undefined dynamic symbol is exported, with the version it asks for, by a NEEDED library at API level API
  (SYMBOLS_DIR/*.symbols, generated from bionic's maps by android/bionic/stubs.py), except weak references to
  newer functions (Rust std's `getrandom`, API 28: NULL on older phones, and std falls back to the raw system call);
  no thread-local storage segment (bionic before API 29 has no ELF TLS; Rust uses emulated TLS there);
- exported: the JNI functions of every `native` method of NativeBridge.java (and of the host tests' NativeTesting
  with --testing, which the shipped library must not have), JNI_OnLoad/JNI_OnUnload if present, nothing else;
- every LOAD segment aligned to 16 KB (phones with 16 KB pages) with offset and address congruent; no text
  relocations (DT_TEXTREL, DF_TEXTREL), no writable and executable segment, a non-executable stack, RELRO;
- DT_HASH and DT_GNU_HASH; the Android ABI note with API level API;
- with --stripped: no .symtab and no debug sections.
Prints one line per check and exits non-zero on any failure.

--compare-stubs checks the stub generator against a real Android userland (scripts/test-bionic.sh): every symbol
the stubs export exists in that release's library, with the same version where the release has versions.
"""

import re
import struct
import sys
from pathlib import Path

SYSTEM_LIBRARIES = ["libc.so", "libm.so", "libdl.so", "liblog.so"]
PAGE = 16384
PT_LOAD, PT_DYNAMIC, PT_TLS = 1, 2, 7
PT_GNU_STACK, PT_GNU_RELRO = 0x6474E551, 0x6474E552
PF_X, PF_W = 1, 2
SHT_SYMTAB, SHT_DYNAMIC, SHT_NOTE, SHT_DYNSYM = 2, 6, 7, 11
SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
DT_NEEDED, DT_HASH, DT_SONAME, DT_RPATH, DT_TEXTREL, DT_RUNPATH, DT_FLAGS = 1, 4, 14, 15, 22, 29, 30
DT_GNU_HASH = 0x6FFFFEF5
DF_TEXTREL = 4


class Elf:
    def __init__(self, path):
        self.data = Path(path).read_bytes()
        d = self.data
        if d[:4] != b"\x7fELF":
            raise SystemExit(f"{path}: not an ELF file")
        self.elf64_le = d[4] == 2 and d[5] == 1
        if not self.elf64_le:
            return
        self.type, self.machine = struct.unpack_from("<HH", d, 16)
        phoff, shoff = struct.unpack_from("<QQ", d, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", d, 54)
        self.phdrs = [struct.unpack_from("<IIQQQQQQ", d, phoff + i * phentsize) for i in range(phnum)]
        raw = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
        names = raw[shstrndx]
        self.sections = []
        for s in raw:
            name = self.cstr(names[4] + s[0])
            self.sections.append({"name": name, "type": s[1], "flags": s[2], "offset": s[4], "size": s[5],
                                  "link": s[6], "info": s[7], "entsize": s[9]})

    def cstr(self, offset):
        end = self.data.index(b"\0", offset)
        return self.data[offset:end].decode()

    def section(self, kind):
        return next((s for s in self.sections if s["type"] == kind), None)

    def dynamic(self):
        dyn = self.section(SHT_DYNAMIC)
        strtab = self.sections[dyn["link"]]["offset"]
        entries = []
        for i in range(dyn["size"] // 16):
            tag, value = struct.unpack_from("<qQ", self.data, dyn["offset"] + i * 16)
            if tag == 0:
                break
            entries.append((tag, value))
        return entries, strtab

    def dynsyms(self):
        """[(name, bind, type, visibility, defined, version index)]"""
        dynsym = self.section(SHT_DYNSYM)
        strtab = self.sections[dynsym["link"]]["offset"]
        versym = self.section(SHT_GNU_VERSYM)
        out = []
        for i in range(dynsym["size"] // 24):
            st_name, info, other, shndx, _value, _size = struct.unpack_from("<IBBHQQ", self.data,
                                                                             dynsym["offset"] + i * 24)
            if i == 0:
                continue
            version = struct.unpack_from("<H", self.data, versym["offset"] + i * 2)[0] & 0x7FFF if versym else 1
            out.append((self.cstr(strtab + st_name), info >> 4, info & 0xF, other & 3, shndx != 0, version))
        return out

    def verneed(self):
        """{version index: (file, version name)}"""
        sec = self.section(SHT_GNU_VERNEED)
        if not sec:
            return {}
        strtab = self.sections[sec["link"]]["offset"]
        out = {}
        offset = sec["offset"]
        for _ in range(sec["info"]):
            _version, count, file_name, aux, next_need = struct.unpack_from("<HHIII", self.data, offset)
            aux_offset = offset + aux
            for _ in range(count):
                _hash, _flags, other, name, next_aux = struct.unpack_from("<IHHII", self.data, aux_offset)
                out[other] = (self.cstr(strtab + file_name), self.cstr(strtab + name))
                aux_offset += next_aux
            if next_need == 0:
                break
            offset += next_need
        return out

    def verdef(self):
        """{version index: version name}"""
        sec = self.section(SHT_GNU_VERDEF)
        if not sec:
            return {}
        strtab = self.sections[sec["link"]]["offset"]
        out = {}
        offset = sec["offset"]
        for _ in range(sec["info"]):
            _version, _flags, index, _count, _hash, aux, next_def = struct.unpack_from("<HHHHIII", self.data, offset)
            out[index] = self.cstr(strtab + struct.unpack_from("<I", self.data, offset + aux)[0])
            if next_def == 0:
                break
            offset += next_def
        return out

    def exports(self):
        """{name: version name or "-"} of the defined global and weak dynamic symbols."""
        names = self.verdef()
        return {name: names.get(version, "-") if version > 1 else "-"
                for name, bind, _type, _vis, defined, version in self.dynsyms() if defined and bind in (1, 2)}

    def android_api(self):
        for s in self.sections:
            if s["type"] == SHT_NOTE and s["name"] == ".note.android.ident":
                namesz, descsz, kind = struct.unpack_from("<III", self.data, s["offset"])
                name = self.data[s["offset"] + 12:s["offset"] + 12 + namesz].rstrip(b"\0")
                desc = s["offset"] + 12 + ((namesz + 3) & ~3)
                if name == b"Android" and kind == 1 and descsz >= 4:
                    return struct.unpack_from("<i", self.data, desc)[0]
        return None


def natives(java_file):
    """The `native` methods declared in a Java source file."""
    text = Path(java_file).read_text()
    return sorted(set(re.findall(r"\bnative\s+[\w\[\]<>.,\s]+?\s+(\w+)\s*\(", text)))


def compare_stubs(symbols_dir, userland, versioned):
    """Every stub symbol is exported by the real library of an Android userland (and with the stub's version, when
    that release has symbol versions: Android 7 and later)."""
    failures = 0
    for library in SYSTEM_LIBRARIES:
        elf = Elf(Path(userland) / "system/lib64" / library)
        real = elf.exports()
        defined_versions = set(elf.verdef().values())
        # A reference to a version the library does not define binds, in bionic's linker, to the library's
        # unversioned symbols (find_verdef_version_index falls back to the global index): Android 9's liblog
        # defines no LIBLOG yet.
        undefined_versions = set()
        wrong = []
        count = 0
        for line in (Path(symbols_dir) / f"{Path(library).stem}.symbols").read_text().splitlines():
            name, version, _kind = line.split()
            count += 1
            if name not in real:
                wrong.append(f"{name} missing")
            elif versioned and version != "-" and version not in defined_versions:
                undefined_versions.add(version)
                if real[name] != "-":
                    wrong.append(f"{name}@{version} is @{real[name]}")
            elif versioned and version != "-" and real[name] != version:
                wrong.append(f"{name}@{version} is @{real[name]}")
        ok = not wrong
        failures += 0 if ok else 1
        print(f"{'ok' if ok else 'FAIL'} - {library}: the {count} stub symbols are exported by {userland}"
              f"{' with the same versions' if versioned and not undefined_versions else ''}"
              f"{' unversioned, as this release defines no ' + ' '.join(sorted(undefined_versions)) if undefined_versions else ''}"
              f"{'' if ok else ': ' + ', '.join(wrong[:10])}")
    return 1 if failures else 0


def main():
    if sys.argv[1:2] == ["--compare-stubs"]:
        if len(sys.argv) != 5:
            raise SystemExit("check_so.py --compare-stubs SYMBOLS_DIR USERLAND versioned|unversioned")
        return compare_stubs(sys.argv[2], sys.argv[3], sys.argv[4] == "versioned")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 4:
        raise SystemExit(__doc__)
    path, symbols_dir, api, repo = args[0], Path(args[1]), int(args[2]), Path(args[3])
    stripped, testing = "--stripped" in flags, "--testing" in flags
    failures = 0

    def check(ok, what, detail=""):
        nonlocal failures
        print(f"{'ok' if ok else 'FAIL'} - {what}{'' if ok or not detail else ': ' + detail}")
        failures += 0 if ok else 1

    elf = Elf(path)
    check(elf.elf64_le, "ELF64 little-endian")
    if not elf.elf64_le:
        return 1
    check(elf.machine == 183, "AArch64 (e_machine 183)", f"e_machine {elf.machine}")
    check(elf.type == 3, "a shared object (ET_DYN)", f"e_type {elf.type}")

    dynamic, dynstr = elf.dynamic()
    needed = [elf.cstr(dynstr + v) for t, v in dynamic if t == DT_NEEDED]
    soname = [elf.cstr(dynstr + v) for t, v in dynamic if t == DT_SONAME]
    flags_value = next((v for t, v in dynamic if t == DT_FLAGS), 0)
    check(soname == ["libfacecheck_jni.so"], "SONAME libfacecheck_jni.so", str(soname))
    check(all(n in SYSTEM_LIBRARIES for n in needed), f"NEEDED only bionic system libraries: {' '.join(needed)}",
          " ".join(n for n in needed if n not in SYSTEM_LIBRARIES))
    check(not any(t in (DT_RPATH, DT_RUNPATH) for t, _ in dynamic), "no RPATH/RUNPATH")
    check(not any(t == DT_TEXTREL for t, _ in dynamic) and not flags_value & DF_TEXTREL,
          "no text relocations (DT_TEXTREL, DF_TEXTREL)")
    check(any(t == DT_HASH for t, _ in dynamic) and any(t == DT_GNU_HASH for t, _ in dynamic),
          "DT_HASH and DT_GNU_HASH")

    # Undefined symbols against what bionic exports at this API level.
    exported = {}  # library -> {name: version}
    for library in SYSTEM_LIBRARIES:
        table = {}
        for line in (symbols_dir / f"{Path(library).stem}.symbols").read_text().splitlines():
            name, version, _kind = line.split()
            table[name] = version
        exported[library] = table
    versions = elf.verneed()
    symbols = elf.dynsyms()
    undefined = [s for s in symbols if not s[4]]
    missing = []
    absent_weak = []
    for name, bind, _type, _vis, _defined, version in undefined:
        if bind == 2 and not any(name in exported[library] for library in needed if library in exported):
            absent_weak.append(name)  # NULL at this level: the referring code checks (Rust std's extern_weak)
        elif version > 1:
            file, wanted = versions.get(version, ("?", "?"))
            table = exported.get(file, {})
            if file not in needed or table.get(name) != wanted:
                missing.append(f"{name}@{wanted} ({file})")
        elif not any(name in exported[library] for library in needed if library in exported):
            missing.append(name)
    check(not missing, f"all {len(undefined)} undefined symbols are exported by bionic at API {api}, with their "
          "versions", ", ".join(missing))
    if absent_weak:
        print(f"     (weak references to newer functions, NULL at API {api} and checked by their callers: "
              f"{' '.join(absent_weak)})")

    # Exports: the JNI functions and nothing else.
    bridge = [f"Java_com_facecheck_api_NativeBridge_{m}" for m in
              natives(repo / "android/facecheck-api/src/main/java/com/facecheck/api/NativeBridge.java")]
    test_only = [f"Java_com_facecheck_hosttest_NativeTesting_{m}" for m in
                 natives(repo / "android/host-tests/src/com/facecheck/hosttest/NativeTesting.java")]
    defined = sorted(s[0] for s in symbols if s[4] and s[1] in (1, 2) and s[3] in (0, 3))
    check(len(bridge) >= 10 and all(b in defined for b in bridge),
          f"every native method of NativeBridge.java is exported ({len(bridge)})",
          " ".join(b for b in bridge if b not in defined))
    if testing:
        check(all(t in defined for t in test_only), f"the test-only natives are exported ({len(test_only)})")
    else:
        check(not any(t in defined for t in test_only), "no test-only native (feature `testing`) in this library")
    allowed = set(bridge) | set(test_only) | {"JNI_OnLoad", "JNI_OnUnload"}
    extra = [d for d in defined if d not in allowed]
    check(not extra, f"nothing else exported ({len(defined)} symbols, JNI_OnLoad "
          f"{'exported' if 'JNI_OnLoad' in defined else 'absent: the VM assumes JNI 1.6 without it'})",
          " ".join(extra[:20]))

    # Segments.
    loads = [p for p in elf.phdrs if p[0] == PT_LOAD]
    misaligned = [f"offset {p[2]:#x} vaddr {p[3]:#x} align {p[7]:#x}" for p in loads
                  if p[7] < PAGE or p[7] % PAGE or p[2] % PAGE != p[3] % PAGE]
    check(loads and not misaligned, f"{len(loads)} LOAD segments aligned to 16 KB", "; ".join(misaligned))
    check(not any(p[1] & PF_W and p[1] & PF_X for p in loads), "no writable and executable segment")
    stack = [p for p in elf.phdrs if p[0] == PT_GNU_STACK]
    check(stack and not stack[0][1] & PF_X, "non-executable stack (PT_GNU_STACK)")
    check(any(p[0] == PT_GNU_RELRO for p in elf.phdrs), "RELRO (PT_GNU_RELRO)")
    check(not any(p[0] == PT_TLS for p in elf.phdrs), "no ELF TLS segment (bionic has none before API 29)")
    note = elf.android_api()
    check(note == api, f"Android ABI note: API {api}", f"found {note}")

    if stripped:
        leftovers = [s["name"] for s in elf.sections if s["type"] == SHT_SYMTAB or s["name"].startswith(".debug")]
        check(not leftovers, "stripped (no .symtab, no debug sections)", " ".join(leftovers))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
