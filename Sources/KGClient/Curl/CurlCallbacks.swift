import CCurl

// The C callbacks libcurl calls during `curl_easy_perform`. They capture
// nothing: the `TransferState` arrives through the *DATA pointer, unretained
// (the caller keeps it alive for the duration of the perform).

func curlHeaderCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    let length = size * count
    guard let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    return state.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

func curlWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    let length = size * count
    guard let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    // Returning anything but `length` makes libcurl abort with CURLE_WRITE_ERROR.
    return state.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : (length == 0 ? 1 : 0)
}

func curlProgressCallback(
    _ context: UnsafeMutableRawPointer?, _ downloadTotal: curl_off_t, _ downloaded: curl_off_t,
    _ uploadTotal: curl_off_t, _ uploaded: curl_off_t
) -> Int32 {
    guard let context else { return 1 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    // Non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK.
    return state.progress(
        downloadTotal: Int64(downloadTotal), downloaded: Int64(downloaded),
        uploadTotal: Int64(uploadTotal), uploaded: Int64(uploaded)
    ) ? 0 : 1
}
