package io.qsnapfs.mount;

import io.qsnapfs.engine.read.ExtentSink;
import java.nio.ByteBuffer;

/** The file a successful request leaves: empty; closing it ends one use of the receipt. */
final class ReceiptOpenFile implements OpenFile {
    private final Receipts.Receipt receipt;

    ReceiptOpenFile(Receipts.Receipt receipt) {
        this.receipt = receipt;
    }

    @Override
    public Attributes attributes() {
        return MountTree.receiptAttributes(receipt.madeSec());
    }

    @Override
    public int read(long offset, ByteBuffer dst) {
        return 0;
    }

    @Override
    public int map(long offset, int length, ExtentSink sink) {
        return 0;
    }

    @Override
    public void close() {
        receipt.close();
    }
}
