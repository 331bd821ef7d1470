//! The Merkle tree over the ledger (RFC 9162 §2.1).
//!
//! The leaves are the entries' `entry_hash` values in seq order (each is
//! already an RFC 6962 leaf hash, SHA-256(0x00 || encoding)); an interior
//! node is SHA-256(0x01 || left || right); the tree of size n covers seq
//! 1..=n (leaf index = seq - 1). The algorithms here are pure: they read
//! complete subtrees through [`Subtrees`], which [`store`] answers from the
//! ledger and its node table, and tests answer from a vector.

pub mod store;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// SHA-256 of nothing: the root of the empty tree.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// An interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 leaf hash of raw data: SHA-256(0x00 || data). (The ledger's
/// leaves are entry hashes, which are already leaf hashes.)
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (n ≥ 2): RFC 9162's k.
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Source of complete, aligned subtree hashes: the hash of leaves
/// `index * 2^level .. (index + 1) * 2^level`.
pub trait Subtrees {
    type Error;
    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// MTH of leaves `lo..hi`, where `lo` is a multiple of the largest power of
/// two not above `hi - lo` (every range the proofs below ask for is): the
/// binary decomposition of the length gives complete aligned subtrees, left
/// to right, folded from the right.
pub fn range_hash<S: Subtrees>(s: &mut S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    if hi <= lo {
        return Ok(EMPTY_ROOT);
    }
    let mut parts = Vec::with_capacity(64);
    let mut at = lo;
    let len = hi - lo;
    for level in (0..64u32).rev() {
        if len & (1u64 << level) != 0 {
            parts.push(s.subtree(level, at >> level)?);
            at += 1u64 << level;
        }
    }
    let mut acc = parts.pop().unwrap_or(EMPTY_ROOT);
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The root of the tree of size `n`.
pub fn root<S: Subtrees>(s: &mut S, n: u64) -> Result<Hash, S::Error> {
    range_hash(s, 0, n)
}

/// The inclusion proof of leaf `m` in the tree of size `n` (RFC 9162
/// §2.1.3.1, PATH), leaf-side first. `m < n` is the caller's to check.
pub fn inclusion_proof<S: Subtrees>(s: &mut S, m: u64, n: u64) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, n);
    // Walk down from the root, collecting siblings; reverse at the end.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < lo + k {
            out.push(range_hash(s, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_hash(s, lo, lo + k)?);
            lo += k;
        }
    }
    out.reverse();
    Ok(out)
}

/// The consistency proof between sizes `m` and `n` (RFC 9162 §2.1.4.1,
/// PROOF), `0 < m <= n` (the caller's to check).
pub fn consistency_proof<S: Subtrees>(s: &mut S, m: u64, n: u64) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, n, m, true);
    loop {
        let len = hi - lo;
        if m == len {
            if !whole {
                out.push(range_hash(s, lo, hi)?);
            }
            break;
        }
        let k = split(len);
        if m <= k {
            out.push(range_hash(s, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_hash(s, lo, lo + k)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    Ok(out)
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
    #[error("the second tree size {second} is smaller than the first {first}")]
    Shrunk { first: u64, second: u64 },
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree of size
/// `second` with root `second_root` extends the one of size `first`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if second < first {
        return Err(ProofError::Shrunk { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if first == 0 {
        // Every tree extends the empty one.
        return if proof.is_empty() && first_root == &EMPTY_ROOT {
            Ok(())
        } else if proof.is_empty() {
            Err(ProofError::RootMismatch)
        } else {
            Err(ProofError::WrongLength)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root || &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Every complete subtree over leaves in memory, computed once (O(n)): the
/// tree a bundle's proofs are taken from when the stored nodes disagree
/// with the chain (`proof::bundle`).
pub struct Computed {
    levels: Vec<Vec<Hash>>,
}

impl Computed {
    pub fn new(leaves: Vec<Hash>) -> Computed {
        let mut levels = vec![leaves];
        loop {
            let next: Vec<Hash> = match levels.last() {
                Some(below) if below.len() >= 2 => below
                    .chunks_exact(2)
                    .filter_map(|pair| match pair {
                        [l, r] => Some(node_hash(l, r)),
                        _ => None,
                    })
                    .collect(),
                _ => break,
            };
            levels.push(next);
        }
        Computed { levels }
    }

    /// How many leaves it holds.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
}

impl Subtrees for Computed {
    type Error = std::convert::Infallible;
    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        Ok(self
            .levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .unwrap_or(EMPTY_ROOT))
    }
}

/// Leaves in memory (tests, bundles, the streaming check in `verify`).
pub struct Leaves<'a>(pub &'a [Hash]);

impl Subtrees for Leaves<'_> {
    type Error = std::convert::Infallible;
    fn subtree(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let width = 1usize << level;
        let start = (index as usize) * width;
        Ok(naive_root(self.0.get(start..start + width).unwrap_or(&[])))
    }
}

/// MTH by the RFC's recursive definition, over leaf hashes in memory.
pub fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves.first().copied().unwrap_or(EMPTY_ROOT),
        n => {
            let k = split(n as u64) as usize;
            let (l, r) = leaves.split_at(k);
            node_hash(&naive_root(l), &naive_root(r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// RFC 6962 reference leaves and roots (as published with the
    /// Certificate Transparency and transparency-dev test suites).
    fn reference() -> (Vec<Hash>, Vec<Hash>) {
        let data = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let leaves = data
            .iter()
            .map(|d| leaf_hash(&hex::decode(d).unwrap()))
            .collect();
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ]
        .iter()
        .map(|r| h(r))
        .collect();
        (leaves, roots)
    }

    #[test]
    fn roots_match_rfc6962_vectors() {
        let (leaves, roots) = reference();
        assert_eq!(
            hex::encode(EMPTY_ROOT),
            hex::encode(<Sha256 as Digest>::digest([]))
        );
        for n in 1..=8 {
            let got = root(&mut Leaves(&leaves), n as u64).unwrap();
            assert_eq!(got, roots[n - 1], "size {n}");
            assert_eq!(naive_root(&leaves[..n]), roots[n - 1]);
        }
    }

    #[test]
    fn proofs_match_rfc6962_vectors() {
        let (leaves, roots) = reference();
        let mut s = Leaves(&leaves);
        assert_eq!(
            inclusion_proof(&mut s, 0, 8).unwrap(),
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        assert_eq!(
            inclusion_proof(&mut s, 5, 8).unwrap(),
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
        assert_eq!(
            consistency_proof(&mut s, 2, 8).unwrap(),
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ]
        );
        let p = consistency_proof(&mut s, 6, 8).unwrap();
        assert_eq!(
            p,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ]
        );
        verify_consistency(6, 8, &roots[5], &roots[7], &p).unwrap();
        assert!(verify_consistency(6, 8, &roots[4], &roots[7], &p).is_err());
    }

    #[test]
    fn split_is_rfc_k_not_the_midpoint() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k, "{n}");
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn every_proof_verifies_and_every_mangled_one_fails_up_to_40() {
        let all = leaves(40);
        let roots: Vec<Hash> = (0..=40).map(|n| naive_root(&all[..n])).collect();
        let mut s = Leaves(&all);
        for n in 1..=40u64 {
            for m in 0..n {
                let p = inclusion_proof(&mut s, m, n).unwrap();
                let leaf = all[m as usize];
                verify_inclusion(&leaf, m, n, &p, &roots[n as usize]).unwrap();
                assert!(verify_inclusion(&leaf, m, n, &p, &roots[n as usize - 1]).is_err());
                if n > 1 {
                    assert!(
                        verify_inclusion(&leaf, (m + 1) % n, n, &p, &roots[n as usize]).is_err()
                    );
                    assert!(
                        verify_inclusion(&leaf, m, n, &p[..p.len() - 1], &roots[n as usize])
                            .is_err()
                    );
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(&leaf, m, n, &bad, &roots[n as usize]).is_err());
                }
                let mut longer = p.clone();
                longer.push([7; 32]);
                assert!(verify_inclusion(&leaf, m, n, &longer, &roots[n as usize]).is_err());
            }
            for m in 1..=n {
                let p = consistency_proof(&mut s, m, n).unwrap();
                verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &p)
                    .unwrap_or_else(|e| panic!("{m}->{n}: {e}"));
                if m < n {
                    assert!(
                        verify_consistency(m, n, &roots[m as usize - 1], &roots[n as usize], &p)
                            .is_err()
                    );
                    assert!(
                        verify_consistency(
                            m,
                            n,
                            &roots[m as usize],
                            &roots[n as usize],
                            &p[..p.len() - 1]
                        )
                        .is_err()
                    );
                    let mut bad = p.clone();
                    let last = bad.len() - 1;
                    bad[last][3] ^= 0x80;
                    assert!(
                        verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &bad)
                            .is_err()
                    );
                }
            }
        }
        verify_consistency(0, 8, &EMPTY_ROOT, &roots[8], &[]).unwrap();
        assert!(verify_consistency(5, 4, &roots[5], &roots[4], &[]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn proofs_verify_in_large_trees(n in 1u64..3000, a in any::<u64>(), b in any::<u64>()) {
            let all = leaves(n as usize);
            let mut s = Leaves(&all);
            let r = root(&mut s, n).unwrap();
            let m = a % n;
            let p = inclusion_proof(&mut s, m, n).unwrap();
            prop_assert!(verify_inclusion(&all[m as usize], m, n, &p, &r).is_ok());
            let first = 1 + b % n;
            let old = root(&mut s, first).unwrap();
            let c = consistency_proof(&mut s, first, n).unwrap();
            prop_assert!(verify_consistency(first, n, &old, &r, &c).is_ok());
        }
    }
}
