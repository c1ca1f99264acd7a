/** Who is calling. Handlers get this, never raw XML or certificates. */
export interface Principal {
  /** The user ID: the subject name of the caller's certificate. */
  readonly userId: string;
  /** Admins may see and act on every user's resources. */
  readonly admin: boolean;
  /** Set for calls from another VBS service (a delegate's callback). */
  readonly service?: string;
}
