/** Placeholder: the Secure EPT, filled by the engineer who owns memory leaves. */
export class SecureEpt {}
