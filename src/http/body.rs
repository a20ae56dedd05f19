//! Reading a reply's body, up to a bound.

/// A reply's body: read (up to the bound), or left open to be streamed.
pub enum Reply {
    Read(bytes::Bytes),
    Open(reqwest::Response),
}

/// The most of one reply catops holds: a page of a listing (1000 items) or a bulk answer is
/// far below it.
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// Of an error reply only the start is kept: the vendor's message is in it.
pub const MAX_ERROR_BYTES: usize = 1 << 20;

/// Reads up to `limit` bytes of a body; true when there was more (not read).
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(bytes::Bytes, bool), reqwest::Error> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), false))
}
